/** The API's enums as choices (checked against schema.graphql in operations.test.ts). */
const choices = (values: Record<string, string>) =>
  Object.entries(values).map(([id, name]) => ({ id, name }));

export const TEAM_ROLES = choices({
  viewer: "Viewer",
  requester: "Requester",
  approver: "Approver",
  team_admin: "Team admin",
});
export const ENVIRONMENT_TYPES = choices({
  development: "Development",
  staging: "Staging",
  production: "Production",
});
export const CONTEXT_TYPES = choices({
  string: "String",
  number: "Number",
  boolean: "Boolean",
  semver: "Semantic version",
  date: "Date",
});
export const CLIENT_KINDS = choices({ backend: "Backend", web: "Web" });
export const API_TOKEN_SCOPES = choices({
  read: "Read",
  write_flags: "Write flags",
  evaluate: "Evaluate",
  ingest_metrics: "Ingest metrics",
});
export const APPROVAL_SCOPES = choices({
  all: "All environments",
  production: "Production environments",
  listed: "Listed environments",
});
/** Plain strings in the schema (`recurrence: String!`), checked by the database. */
export const RECURRENCES = choices({ none: "Once", daily: "Daily", weekly: "Weekly" });

/** Enum name in schema.graphql → choices, for the test. */
export const ENUM_CHOICES = {
  TeamRole: TEAM_ROLES,
  EnvironmentType: ENVIRONMENT_TYPES,
  ContextType: CONTEXT_TYPES,
  ClientKind: CLIENT_KINDS,
  ApiTokenScope: API_TOKEN_SCOPES,
  ApprovalScope: APPROVAL_SCOPES,
};
