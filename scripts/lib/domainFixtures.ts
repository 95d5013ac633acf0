import { randomUUID } from "node:crypto";

import type pg from "pg";

/** A client (usually inside a transaction the caller rolls back or commits). */
type TxClient = pg.PoolClient;

/*
 * Builders for users, teams and the flag domain (environments, features,
 * stages...), shared by the db and backend tests. They run as the owner
 * (root), so call them before switching role, and return ids.
 */

export interface NewUser {
  id: string;
  email: string;
}

/** Creates a user as root (call before switching role). */
export async function createUser(
  client: TxClient,
  options: { isAdmin?: boolean; name?: string } = {},
): Promise<NewUser> {
  const email = `user-${randomUUID()}@example.com`;
  const {
    rows: [user],
  } = await client.query<NewUser>(
    "insert into app_public.users (email, name, is_admin) values ($1, $2, $3) returning id, email",
    [email, options.name ?? "Test User", options.isAdmin ?? false],
  );
  return user!;
}

/** Creates a team as root, with the given members and roles. */
export async function createTeam(
  client: TxClient,
  members: Array<[NewUser, string[]]> = [],
): Promise<{ id: string; slug: string }> {
  const slug = `team-${randomUUID().slice(0, 8)}`;
  const {
    rows: [team],
  } = await client.query<{ id: string; slug: string }>(
    "insert into app_public.teams (slug, name) values ($1, $1) returning id, slug",
    [slug],
  );
  for (const [user, roles] of members) {
    await client.query(
      "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, $3::app_public.team_role[])",
      [team!.id, user.id, roles],
    );
  }
  return team!;
}

/** Runs `sql` and returns the SQLSTATE it fails with (or undefined). */

async function insert(
  client: TxClient,
  table: string,
  values: Record<string, unknown>,
): Promise<string> {
  const columns = Object.keys(values);
  const params = columns.map((_, i) => `$${i + 1}`).join(", ");
  const {
    rows: [row],
  } = await client.query<{ id: string }>(
    `insert into app_public.${table} (${columns.join(", ")}) values (${params}) returning id`,
    // objects go in as JSON; arrays as Postgres arrays (stringify jsonb arrays)
    Object.values(values).map((value) =>
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? JSON.stringify(value)
        : value,
    ),
  );
  return row!.id;
}

export function createEnvironment(
  client: TxClient,
  teamId: string,
  key = "development",
  type = "development",
  position = 0,
): Promise<string> {
  return insert(client, "environments", { team_id: teamId, key, name: key, type, position });
}

export function createContext(
  client: TxClient,
  teamId: string,
  key: string,
  type = "string",
  allowedValues: unknown[] | null = null,
): Promise<string> {
  return insert(client, "contexts", {
    team_id: teamId,
    key,
    name: key,
    type,
    allowed_values: allowedValues === null ? null : JSON.stringify(allowedValues),
  });
}

export function createSegment(
  client: TxClient,
  teamId: string,
  key: string,
  rules: unknown = [],
): Promise<string> {
  return insert(client, "segments", {
    team_id: teamId,
    key,
    name: key,
    rules: JSON.stringify(rules),
  });
}

export interface FeatureOptions {
  kind?: "simple" | "contextual";
  valueType?: "boolean" | "string" | "number" | "json";
  variants?: Array<{ key: string; value: unknown; description?: string }>;
  offVariant?: string;
}

export function createFeature(
  client: TxClient,
  teamId: string,
  key: string,
  options: FeatureOptions = {},
): Promise<string> {
  const values: Record<string, unknown> = { team_id: teamId, key, name: key };
  if (options.kind) values.kind = options.kind;
  if (options.valueType) values.value_type = options.valueType;
  if (options.variants) values.variants = JSON.stringify(options.variants);
  if (options.offVariant) values.off_variant = options.offVariant;
  return insert(client, "features", values);
}

/** A contextual string feature with variants v1 (off), v2 and v3. */
export function createContextualFeature(
  client: TxClient,
  teamId: string,
  key: string,
): Promise<string> {
  return createFeature(client, teamId, key, {
    kind: "contextual",
    valueType: "string",
    variants: [
      { key: "v1", value: "classic" },
      { key: "v2", value: "new" },
      { key: "v3", value: "newer" },
    ],
    offVariant: "v1",
  });
}

export function createStage(
  client: TxClient,
  featureId: string,
  environmentId: string,
): Promise<string> {
  return insert(client, "feature_stages", { feature_id: featureId, environment_id: environmentId });
}

export function createDependency(
  client: TxClient,
  featureId: string,
  dependsOnId: string,
  requiredVariant: string | null = null,
): Promise<string> {
  return insert(client, "feature_dependencies", {
    feature_id: featureId,
    depends_on_id: dependsOnId,
    required_variant: requiredVariant,
  });
}

export function createCriterion(
  client: TxClient,
  stageId: string,
  priority: number,
  fields: {
    rules?: unknown;
    variant?: string | null;
    split?: unknown;
    rolloutBasisPoints?: number;
  } = {},
): Promise<string> {
  const values: Record<string, unknown> = { feature_stage_id: stageId, priority };
  if (fields.rules !== undefined) values.rules = JSON.stringify(fields.rules);
  if (fields.variant !== undefined) values.variant = fields.variant;
  if (fields.split !== undefined) values.split = JSON.stringify(fields.split);
  if (fields.rolloutBasisPoints !== undefined) {
    values.rollout_basis_points = fields.rolloutBasisPoints;
  }
  return insert(client, "stage_criteria", values);
}

/** Creates a client as root; returns its id and secret. */
export async function createClient(
  client: TxClient,
  environmentId: string,
  kind: "backend" | "web" = "backend",
  origins: string[] = [],
): Promise<{ id: string; secret: string }> {
  // create_client checks the caller is a team admin: as root, act as a
  // system admin.
  const admin = await createUser(client, { isAdmin: true });
  const {
    rows: [session],
  } = await client.query<{ id: string }>(
    "insert into app_private.sessions (user_id) values ($1) returning id",
    [admin.id],
  );
  await client.query("select set_config('jwt.claims.session_id', $1, true)", [session!.id]);
  const {
    rows: [created],
  } = await client.query<{ id: string; secret: string }>(
    "select (r).client.id as id, (r).secret from app_public.create_client($1, 'client', $2, $3) r",
    [environmentId, kind, origins],
  );
  await client.query("select set_config('jwt.claims.session_id', '', true)");
  return created!;
}

/** One of everything in a team, each row referencing the ones above it. */
export interface TeamDomain {
  teamId: string;
  environment: string;
  environment2: string;
  pipeline: string;
  pipelineStage: string;
  context: string;
  unusedContext: string;
  segment: string;
  unusedSegment: string;
  feature: string;
  feature2: string;
  feature3: string;
  dependency: string;
  stage: string;
  criterion: string;
  client: string;
}

export async function createTeamDomain(client: TxClient, teamId: string): Promise<TeamDomain> {
  const environment = await createEnvironment(client, teamId, "development", "development", 1);
  const environment2 = await createEnvironment(client, teamId, "production", "production", 2);
  const pipeline = await insert(client, "pipelines", { team_id: teamId, name: "Default" });
  const pipelineStage = await insert(client, "pipeline_stages", {
    pipeline_id: pipeline,
    environment_id: environment,
  });
  const context = await createContext(client, teamId, "country", "string", ["NZ", "AU", "GB"]);
  const unusedContext = await createContext(client, teamId, "plan");
  const segment = await createSegment(client, teamId, "down-under", [
    {
      combinator: "AND",
      conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU"] }],
    },
  ]);
  const unusedSegment = await createSegment(client, teamId, "nobody");
  const feature = await createFeature(client, teamId, "dark-mode");
  const feature2 = await createContextualFeature(client, teamId, "new-checkout");
  const feature3 = await createFeature(client, teamId, "spare");
  const dependency = await createDependency(client, feature2, feature, "on");
  const stage = await createStage(client, feature2, environment);
  const criterion = await createCriterion(client, stage, 0, {
    rules: [{ combinator: "AND", conditions: [{ segment: "down-under" }] }],
    variant: "v2",
  });
  const { id: clientId } = await createClient(client, environment);
  return {
    teamId,
    environment,
    environment2,
    pipeline,
    pipelineStage,
    context,
    unusedContext,
    segment,
    unusedSegment,
    feature,
    feature2,
    feature3,
    dependency,
    stage,
    criterion,
    client: clientId,
  };
}

export type Role = "viewer" | "requester" | "approver" | "team_admin";

export interface TwoTeams {
  a: TeamDomain;
  b: TeamDomain;
  /** Members of team A, one per role, and a member of team B only. */
  users: Record<Role | "outsider", NewUser> & { admin: NewUser };
}

/** Two fully populated teams; team A has one member per role. */
export async function createTwoTeams(client: TxClient): Promise<TwoTeams> {
  const viewer = await createUser(client);
  const requester = await createUser(client);
  const approver = await createUser(client);
  const teamAdmin = await createUser(client);
  const outsider = await createUser(client);
  const admin = await createUser(client, { isAdmin: true });
  const teamA = await createTeam(client, [
    [viewer, ["viewer"]],
    [requester, ["requester"]],
    [approver, ["approver"]],
    [teamAdmin, ["team_admin"]],
  ]);
  const teamB = await createTeam(client, [[outsider, ["team_admin"]]]);
  return {
    a: await createTeamDomain(client, teamA.id),
    b: await createTeamDomain(client, teamB.id),
    users: { viewer, requester, approver, team_admin: teamAdmin, outsider, admin },
  };
}

/** Creates a team with one member holding `roles`, as root. */
export async function createTeamWith(
  client: TxClient,
  roles: Role[],
): Promise<{ user: NewUser; teamId: string }> {
  const user = await createUser(client);
  const team = await createTeam(client, [[user, roles]]);
  return { user, teamId: team.id };
}
