import pg from "pg";

export interface DemoSeed {
  teamId: string;
  /** Backend client of the development environment, for the local edge. */
  client: { id: string; secret: string };
}

const NEW_CHECKOUT_CRITERIA = [
  {
    name: "Premium markets on pro",
    rules: [
      {
        combinator: "AND",
        conditions: [
          { attribute: "country", operator: "IN", values: ["NZ", "AU", "GB"] },
          { attribute: "plan", operator: "EQUALS", values: ["pro"] },
        ],
      },
    ],
    variant: "v2",
  },
  {
    name: "Recent app versions: 30% rollout, split v2/v3",
    rules: [
      {
        combinator: "AND",
        conditions: [{ attribute: "appVersion", operator: "SEMVER_GTE", values: ["2.3.0"] }],
      },
    ],
    rolloutBasisPoints: 3000,
    split: [
      { variant: "v2", weight: 5000 },
      { variant: "v3", weight: 5000 },
    ],
  },
];

/**
 * The local demo (idempotent): team "demo" with development → staging →
 * production, a pipeline, contexts, the flags `dark-mode` and `new-checkout`
 * deployed in development, and a backend client for development. It runs as
 * the administrator through the visitor role, so RLS, validation, audit and
 * the change feed apply exactly as for a person doing it.
 */
export async function seedDemo(
  databaseUrl: string,
  visitorRole: string,
  adminEmail: string,
  knownClient?: { id: string; secret: string },
): Promise<DemoSeed> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("begin");
    const {
      rows: [admin],
    } = await client.query<{ id: string }>(
      "select id from app_public.users where lower(email) = lower($1)",
      [adminEmail],
    );
    if (!admin) throw new Error(`seed: administrator ${adminEmail} does not exist`);
    const {
      rows: [session],
    } = await client.query<{ id: string }>(
      "insert into app_private.sessions (user_id, expires_at) values ($1, now() + interval '1 minute') returning id",
      [admin.id],
    );
    await client.query(
      "select set_config('role', $1, true), set_config('jwt.claims.session_id', $2, true)",
      [visitorRole, session!.id],
    );
    const one = async <T = Record<string, any>>(sql: string, values: unknown[] = []): Promise<T> =>
      (await client.query(sql, values)).rows[0] as T;
    // Upserts would need update grants the seed should not rely on: look
    // first, insert when missing.
    const ensure = async (
      find: string,
      findValues: unknown[],
      insert: string,
      insertValues: unknown[],
    ) => {
      const found = await one<{ id: string } | undefined>(find, findValues);
      if (found) return { id: found.id, created: false };
      return { id: (await one<{ id: string }>(insert, insertValues)).id, created: true };
    };

    const team = await ensure(
      "select id from app_public.teams where slug = 'demo'",
      [],
      "insert into app_public.teams (slug, name) values ('demo', 'Demo') returning id",
      [],
    );
    await client.query(
      `insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{team_admin}')
       on conflict (team_id, user_id) do nothing`,
      [team.id, admin.id],
    );
    const environments: Record<string, string> = {};
    for (const [position, key] of ["development", "staging", "production"].entries()) {
      const row = await ensure(
        "select id from app_public.environments where team_id = $1 and key = $2",
        [team.id, key],
        `insert into app_public.environments (team_id, key, name, type, position)
         values ($1, $2, initcap($2), $2::app_public.environment_type, $3) returning id`,
        [team.id, key, position],
      );
      environments[key] = row.id;
    }
    const pipeline = await ensure(
      "select id from app_public.pipelines where team_id = $1 and name = 'Standard'",
      [team.id],
      `insert into app_public.pipelines (team_id, name, description)
       values ($1, 'Standard', 'development, then staging, then production') returning id`,
      [team.id],
    );
    let parent: string | null = null;
    for (const [position, key] of ["development", "staging", "production"].entries()) {
      const stage: { id: string } = await ensure(
        "select id from app_public.pipeline_stages where pipeline_id = $1 and environment_id = $2",
        [pipeline.id, environments[key]],
        `insert into app_public.pipeline_stages (team_id, pipeline_id, environment_id, position, parent_stage_id)
         values ($1, $2, $3, $4, $5) returning id`,
        [team.id, pipeline.id, environments[key], position, parent],
      );
      parent = stage.id;
    }
    const contexts: Array<[string, string, string, unknown]> = [
      ["country", "Country", "string", null],
      ["plan", "Plan", "string", ["free", "pro", "enterprise"]],
      ["appVersion", "App version", "semver", null],
    ];
    for (const [key, name, type, allowed] of contexts) {
      await ensure(
        "select id from app_public.contexts where team_id = $1 and key = $2",
        [team.id, key],
        `insert into app_public.contexts (team_id, key, name, type, allowed_values)
         values ($1, $2, $3, $4::app_public.context_type, $5) returning id`,
        [team.id, key, name, type, allowed === null ? null : JSON.stringify(allowed)],
      );
    }

    const darkMode = await ensure(
      "select id from app_public.features where team_id = $1 and key = 'dark-mode'",
      [team.id],
      `insert into app_public.features (team_id, key, name, description)
       values ($1, 'dark-mode', 'Dark mode', 'Dark colour scheme for the web app.') returning id`,
      [team.id],
    );
    const newCheckout = await ensure(
      "select id from app_public.features where team_id = $1 and key = 'new-checkout'",
      [team.id],
      `insert into app_public.features (team_id, key, name, description, kind, value_type, variants, off_variant)
       values ($1, 'new-checkout', 'New checkout', 'The redesigned checkout flow.', 'contextual', 'string',
         '[{"key": "v1", "value": "classic"}, {"key": "v2", "value": "one-page"}, {"key": "v3", "value": "express"}]',
         'v1') returning id`,
      [team.id],
    );
    for (const feature of [darkMode, newCheckout]) {
      await client.query("select app_public.add_feature_to_pipeline($1, $2)", [
        feature.id,
        pipeline.id,
      ]);
    }
    const stageOf = async (featureId: string) =>
      await one<{ id: string; status: string }>(
        "select id, status from app_public.feature_stages where feature_id = $1 and environment_id = $2",
        [featureId, environments.development],
      );
    const checkoutStage = await stageOf(newCheckout.id);
    if (newCheckout.created) {
      await client.query("select app_public.set_stage_criteria($1, $2)", [
        checkoutStage.id,
        JSON.stringify(NEW_CHECKOUT_CRITERIA),
      ]);
    }
    for (const feature of [darkMode, newCheckout]) {
      const stage = await stageOf(feature.id);
      if (feature.created && stage.status === "not_deployed") {
        await client.query("select app_public.request_stage_change($1, 'deploy')", [stage.id]);
      }
    }

    let demoClient = knownClient;
    const existing = knownClient
      ? await one<{ id: string } | undefined>("select id from app_public.clients where id = $1", [
          knownClient.id,
        ])
      : undefined;
    if (!existing) {
      const created = await one<{ id: string; secret: string }>(
        `select (r.client).id, r.secret
         from app_public.create_client($1, 'Local edge', 'backend', '{}') r`,
        [environments.development],
      );
      demoClient = { id: created.id, secret: created.secret };
    }
    await client.query("commit");
    return { teamId: team.id, client: demoClient! };
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
