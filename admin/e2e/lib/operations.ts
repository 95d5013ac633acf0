/**
 * The GraphQL operations end-to-end tests use to arrange data and check
 * outcomes through the API (never through the UI under test). Each is checked
 * against `schema.graphql` by `operations.e2e.test.ts`.
 */
export const OPERATIONS = {
  login: /* GraphQL */ `
    mutation E2eLogin($email: String!, $password: String!) {
      login(input: { email: $email, password: $password }) {
        accessToken
        mustResetPassword
        userId
      }
    }
  `,
  changePassword: /* GraphQL */ `
    mutation E2eChangePassword($current: String!, $next: String!) {
      changePassword(input: { currentPassword: $current, newPassword: $next }) {
        success
      }
    }
  `,
  createUser: /* GraphQL */ `
    mutation E2eCreateUser($email: String!, $name: String) {
      createUser(input: { email: $email, name: $name }) {
        temporaryPassword
        user {
          rowId
        }
      }
    }
  `,
  addMember: /* GraphQL */ `
    mutation E2eAddMember($teamId: UUID!, $userId: UUID!, $roles: [TeamRole]) {
      createTeamMembership(
        input: { teamMembership: { teamId: $teamId, userId: $userId, roles: $roles } }
      ) {
        teamMembership {
          rowId
        }
      }
    }
  `,
  team: /* GraphQL */ `
    query E2eTeam($slug: String!) {
      teamBySlug(slug: $slug) {
        rowId
        environments(orderBy: [POSITION_ASC]) {
          nodes {
            rowId
            key
          }
        }
        pipelines {
          nodes {
            rowId
            name
          }
        }
      }
    }
  `,
  createFeature: /* GraphQL */ `
    mutation E2eCreateFeature($feature: FeatureInput!) {
      createFeature(input: { feature: $feature }) {
        feature {
          rowId
        }
      }
    }
  `,
  addToPipeline: /* GraphQL */ `
    mutation E2eAddToPipeline($featureId: UUID!, $pipelineId: UUID!) {
      addFeatureToPipeline(input: { featureId: $featureId, pipelineId: $pipelineId }) {
        result {
          rowId
        }
      }
    }
  `,
  feature: /* GraphQL */ `
    query E2eFeature($teamId: UUID!, $key: String!) {
      featureByTeamIdAndKey(teamId: $teamId, key: $key) {
        rowId
        key
        name
        kind
        valueType
        killSwitch
        stages(orderBy: [PRIMARY_KEY_ASC]) {
          nodes {
            rowId
            status
            environment {
              key
            }
            criteria(orderBy: [PRIORITY_ASC]) {
              nodes {
                rolloutBasisPoints
                variant
              }
            }
          }
        }
      }
    }
  `,
  featureCount: /* GraphQL */ `
    query E2eFeatureCount($teamId: UUID!) {
      features(condition: { teamId: $teamId }) {
        totalCount
      }
    }
  `,
  setStageCriteria: /* GraphQL */ `
    mutation E2eSetStageCriteria($stageId: UUID!, $criteria: JSON!) {
      setStageCriteria(input: { stageId: $stageId, criteria: $criteria }) {
        result {
          rowId
        }
      }
    }
  `,
  requestStageChange: /* GraphQL */ `
    mutation E2eRequestStageChange($stageId: UUID!, $action: String!) {
      requestStageChange(input: { stageId: $stageId, action: $action }) {
        result {
          status
        }
      }
    }
  `,
  createApprovalPolicy: /* GraphQL */ `
    mutation E2eCreateApprovalPolicy($policy: ApprovalPolicyInput!) {
      createApprovalPolicy(input: { approvalPolicy: $policy }) {
        approvalPolicy {
          rowId
        }
      }
    }
  `,
  approvalRequests: /* GraphQL */ `
    query E2eApprovalRequests($stageId: UUID!) {
      approvalRequests(condition: { featureStageId: $stageId }, orderBy: [CREATED_AT_DESC]) {
        nodes {
          rowId
          status
          action
        }
      }
    }
  `,
  approve: /* GraphQL */ `
    mutation E2eApprove($requestId: UUID!) {
      approveApprovalRequest(input: { requestId: $requestId }) {
        result {
          status
        }
      }
    }
  `,
  finalize: /* GraphQL */ `
    mutation E2eFinalize($requestId: UUID!) {
      finalizeApprovalRequest(input: { requestId: $requestId }) {
        result {
          status
        }
      }
    }
  `,
  kill: /* GraphQL */ `
    mutation E2eKill($featureId: UUID!, $reason: String!) {
      killFeature(input: { featureId: $featureId, reason: $reason }) {
        result {
          rowId
        }
      }
    }
  `,
  restore: /* GraphQL */ `
    mutation E2eRestore($featureId: UUID!) {
      restoreFeature(input: { featureId: $featureId }) {
        result {
          rowId
        }
      }
    }
  `,
} as const;

/**
 * One request creating `keys.length` simple features of a team (aliased
 * mutations run one after another in the request).
 */
export function createFeaturesMutation(keys: readonly string[]): string {
  const fields = keys.map(
    (key, i) =>
      `f${i}: createFeature(input: { feature: { teamId: $teamId, key: ${JSON.stringify(key)}, name: ${JSON.stringify(key)} } }) { feature { rowId } }`,
  );
  return `mutation E2eCreateFeatures($teamId: UUID!) {\n${fields.join("\n")}\n}`;
}
