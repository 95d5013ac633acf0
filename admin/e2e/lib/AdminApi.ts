/**
 * The GraphQL API as one user, for arranging data quickly in end-to-end tests
 * and checking what a flow did (the UI under test never goes through here).
 */
import { randomBytes } from "node:crypto";

import { createFeaturesMutation, OPERATIONS } from "./operations.ts";

/** A GraphQL error with the API's code (`db/ERRORS.md`), when it gives one. */
export class GraphQLRequestError extends Error {
  code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

const FEATURES_PER_REQUEST = 50;

export type TeamRole = "viewer" | "requester" | "approver" | "team_admin";

export interface Team {
  teamId: string;
  /** Environment ids by key, in pipeline order. */
  environments: Record<string, string>;
  /** Pipeline ids by name. */
  pipelines: Record<string, string>;
}

export interface FeatureState {
  rowId: string;
  key: string;
  name: string;
  kind: string;
  valueType: string;
  killSwitch: boolean;
  /** Stages by environment key. */
  stages: Record<
    string,
    { rowId: string; status: string; criteria: Array<{ rolloutBasisPoints: number }> }
  >;
}

export interface Member {
  userId: string;
  email: string;
  password: string;
  api: AdminApi;
}

export class AdminApi {
  readonly graphqlUrl: string;
  readonly token: string;
  readonly userId: string;

  constructor(graphqlUrl: string, token: string, userId: string) {
    this.graphqlUrl = graphqlUrl;
    this.token = token;
    this.userId = userId;
  }

  /** Logs in; refuses an account that must still replace a temporary password. */
  static async login(graphqlUrl: string, email: string, password: string): Promise<AdminApi> {
    const { login } = await request<{
      login: { accessToken: string; mustResetPassword: boolean; userId: string };
    }>(graphqlUrl, OPERATIONS.login, { email, password });
    if (login.mustResetPassword) throw new Error(`${email} must reset its password first`);
    return new AdminApi(graphqlUrl, login.accessToken, login.userId);
  }

  /** Runs one operation as this user; GraphQL errors throw `GraphQLRequestError`. */
  request<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return request<T>(this.graphqlUrl, query, variables, this.token);
  }

  async team(slug: string): Promise<Team> {
    const { teamBySlug } = await this.request(OPERATIONS.team, { slug });
    if (!teamBySlug) throw new Error(`no team ${slug} visible to ${this.userId}`);
    return {
      teamId: teamBySlug.rowId,
      environments: Object.fromEntries(
        teamBySlug.environments.nodes.map((e: { key: string; rowId: string }) => [e.key, e.rowId]),
      ),
      pipelines: Object.fromEntries(
        teamBySlug.pipelines.nodes.map((p: { name: string; rowId: string }) => [p.name, p.rowId]),
      ),
    };
  }

  /**
   * A new user holding `roles` in the team, with a password of its own (the
   * temporary one replaced, as at a first login), logged in.
   */
  async createMember(teamId: string, roles: TeamRole[], name = roles.join("+")): Promise<Member> {
    const email = `e2e-${name.replace(/[^a-z0-9]+/gi, "-")}-${randomBytes(4).toString("hex")}@fluxgate.test`;
    const { createUser } = await this.request(OPERATIONS.createUser, { email, name });
    const userId: string = createUser.user.rowId;
    await this.request(OPERATIONS.addMember, { teamId, userId, roles });
    const { login } = await request<{ login: { accessToken: string } }>(
      this.graphqlUrl,
      OPERATIONS.login,
      { email, password: createUser.temporaryPassword },
    );
    const password = `E2e-${randomBytes(15).toString("base64url")}`;
    await request(
      this.graphqlUrl,
      OPERATIONS.changePassword,
      { current: createUser.temporaryPassword, next: password },
      login.accessToken,
    );
    return { userId, email, password, api: await AdminApi.login(this.graphqlUrl, email, password) };
  }

  /** A simple (boolean) feature with the stages of `pipelineId`; returns its id. */
  async createFlag(teamId: string, key: string, pipelineId?: string): Promise<string> {
    const { createFeature } = await this.request(OPERATIONS.createFeature, {
      feature: { teamId, key, name: key },
    });
    const featureId: string = createFeature.feature.rowId;
    if (pipelineId) await this.addToPipeline(featureId, pipelineId);
    return featureId;
  }

  /** Gives a feature the stages of a pipeline (idempotent). */
  async addToPipeline(featureId: string, pipelineId: string): Promise<void> {
    await this.request(OPERATIONS.addToPipeline, { featureId, pipelineId });
  }

  /**
   * `count` simple features `<prefix>-0000`…, `FEATURES_PER_REQUEST` per
   * request (the API refuses more than 50 aliases: QUERY_TOO_LARGE); returns
   * their keys.
   */
  async createFlags(teamId: string, prefix: string, count: number): Promise<string[]> {
    const keys = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < keys.length; i += FEATURES_PER_REQUEST) {
      await this.request(createFeaturesMutation(keys.slice(i, i + FEATURES_PER_REQUEST)), {
        teamId,
      });
    }
    return keys;
  }

  async feature(teamId: string, key: string): Promise<FeatureState | undefined> {
    const { featureByTeamIdAndKey: f } = await this.request(OPERATIONS.feature, { teamId, key });
    if (!f) return undefined;
    return {
      ...f,
      stages: Object.fromEntries(
        f.stages.nodes.map((s: any) => [
          s.environment.key,
          { rowId: s.rowId, status: s.status, criteria: s.criteria.nodes },
        ]),
      ),
    };
  }

  async featureCount(teamId: string): Promise<number> {
    return (await this.request(OPERATIONS.featureCount, { teamId })).features.totalCount;
  }

  async setStageCriteria(stageId: string, criteria: unknown[]): Promise<void> {
    await this.request(OPERATIONS.setStageCriteria, { stageId, criteria });
  }

  /** `deploy` or `rollback`; resolves to the stage's new status. */
  async requestStageChange(stageId: string, action: "deploy" | "rollback"): Promise<string> {
    const { requestStageChange } = await this.request(OPERATIONS.requestStageChange, {
      stageId,
      action,
    });
    return requestStageChange.result.status;
  }

  /** A policy over the listed environments; `eligibleRoles` may approve. */
  async createApprovalPolicy(policy: {
    teamId: string;
    name: string;
    environmentIds: string[];
    requiredApprovals?: number;
    eligibleRoles?: TeamRole[];
    allowAdminOverride?: boolean;
  }): Promise<string> {
    const { createApprovalPolicy } = await this.request(OPERATIONS.createApprovalPolicy, {
      policy: {
        scope: "listed",
        requiredApprovals: 1,
        eligibleRoles: ["approver"],
        ...policy,
      },
    });
    return createApprovalPolicy.approvalPolicy.rowId;
  }

  /** The stage's approval requests, newest first. */
  async approvalRequests(
    stageId: string,
  ): Promise<Array<{ rowId: string; status: string; action: string }>> {
    return (await this.request(OPERATIONS.approvalRequests, { stageId })).approvalRequests.nodes;
  }

  async approve(requestId: string): Promise<string> {
    return (await this.request(OPERATIONS.approve, { requestId })).approveApprovalRequest.result
      .status;
  }

  async finalize(requestId: string): Promise<string> {
    return (await this.request(OPERATIONS.finalize, { requestId })).finalizeApprovalRequest.result
      .status;
  }

  async kill(featureId: string, reason: string): Promise<void> {
    await this.request(OPERATIONS.kill, { featureId, reason });
  }

  async restore(featureId: string): Promise<void> {
    await this.request(OPERATIONS.restore, { featureId });
  }
}

async function request<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  try {
    body = JSON.parse(text);
  } catch {
    throw new GraphQLRequestError(
      `${response.status} from ${url}: ${text.slice(0, 300)}`,
      undefined,
    );
  }
  const error = body.errors?.[0];
  if (error) {
    const name = /(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? "operation";
    throw new GraphQLRequestError(`${name}: ${error.message}`, error.extensions?.code);
  }
  return body.data as T;
}
