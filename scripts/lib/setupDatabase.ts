import pg from "pg";

export interface DatabaseNames {
  database: string;
  owner: string;
  ownerPassword: string;
  authenticator: string;
  authenticatorPassword: string;
  visitor: string;
  /** Also create a shadow database (for `graphile-migrate commit`). */
  shadowDatabase?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Creates the three roles and the database (idempotently) as a superuser.
 * Roles are never created by migrations: the owner runs migrations and owns
 * every object; the authenticator can only log in and switch to the visitor;
 * the visitor is the role of every GraphQL request.
 */
export async function setupDatabase(rootUrl: string, names: DatabaseNames): Promise<void> {
  const databases = [names.database, ...(names.shadowDatabase ? [names.shadowDatabase] : [])];
  for (const name of [...databases, names.owner, names.authenticator, names.visitor]) {
    if (!IDENTIFIER.test(name)) throw new Error(`invalid database or role name "${name}"`);
  }
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    const lit = (value: string) => client.escapeLiteral(value);
    await ensureRole(client, names.owner, `login password ${lit(names.ownerPassword)}`);
    await ensureRole(
      client,
      names.authenticator,
      `login noinherit password ${lit(names.authenticatorPassword)}`,
    );
    await ensureRole(client, names.visitor, "nologin");
    await client.query(`grant ${names.visitor} to ${names.authenticator}`);
    // The owner must be able to `set role` to the visitor in tests and seeds.
    await client.query(`grant ${names.visitor} to ${names.owner}`);
    for (const database of databases) {
      const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [
        database,
      ]);
      if (!rowCount) await client.query(`create database ${database} owner ${names.owner}`);
      await grantDatabase(client, database, names);
    }
  } finally {
    await client.end();
  }
}

/** The database-level grants of a FluxGate database (`database` must be checked). */
export async function grantDatabase(
  client: pg.ClientBase,
  database: string,
  names: Pick<DatabaseNames, "owner" | "authenticator">,
): Promise<void> {
  await client.query(`revoke all on database ${database} from public`);
  await client.query(`grant connect on database ${database} to ${names.authenticator}`);
  await client.query(`grant all on database ${database} to ${names.owner}`);
}

async function ensureRole(client: pg.Client, role: string, options: string): Promise<void> {
  const { rowCount } = await client.query("select 1 from pg_roles where rolname = $1", [role]);
  await client.query(`${rowCount ? "alter" : "create"} role ${role} with ${options}`);
}

/** Replaces the credentials and database of a connection string. */
export function connectionString(
  baseUrl: string,
  user: string,
  password: string,
  database: string,
): string {
  const url = new URL(baseUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  url.pathname = `/${database}`;
  return url.toString();
}
