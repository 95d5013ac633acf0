/*
 * `npm run setup`: prepares an external Postgres for FluxGate (what `npm
 * start` does by itself for the embedded one): roles and database, then
 * migrations. Needs ROOT_DATABASE_URL (a superuser) and the passwords to set.
 */
import { migrateDatabase } from "./lib/migrateDatabase.ts";
import { connectionString, setupDatabase } from "./lib/setupDatabase.ts";

const env = process.env;
function required(name: string): string {
  const value = env[name];
  if (!value) {
    console.error(`setup: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const rootUrl = required("ROOT_DATABASE_URL");
const names = {
  database: env.DATABASE_NAME || "fluxgate",
  owner: env.DATABASE_OWNER || "fluxgate_owner",
  ownerPassword: required("DATABASE_OWNER_PASSWORD"),
  authenticator: env.DATABASE_AUTHENTICATOR || "fluxgate_authenticator",
  authenticatorPassword: required("DATABASE_AUTHENTICATOR_PASSWORD"),
  visitor: env.DATABASE_VISITOR || "fluxgate_visitor",
};
await setupDatabase(rootUrl, names);
await migrateDatabase({
  databaseUrl: connectionString(rootUrl, names.owner, names.ownerPassword, names.database),
  rootUrl,
  authenticator: names.authenticator,
  visitor: names.visitor,
});
console.log(`setup: database ${names.database} is ready.
  DATABASE_URL=${connectionString(rootUrl, names.owner, "<owner password>", names.database)}
  AUTH_DATABASE_URL=${connectionString(rootUrl, names.authenticator, "<authenticator password>", names.database)}`);
