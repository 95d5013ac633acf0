/**
 * The feature screens' own GraphQL operations. The feature list and the
 * editor load with one query each; `bench/admin-ui.ts` measures exactly these
 * strings, so what the bench reports is what the screens cost. Every string
 * here is validated against `schema.graphql` by `queries.test.ts` and run
 * against a real backend by `features.db.test.ts`.
 */

/** What a kill shows (`KillInfo`): when, why, until when, by whom. */
const KILL_FIELDS = /* GraphQL */ `
  fragment KillFields on FeatureKill {
    rowId
    killedAt
    reason
    restoreAt
    restoredAt
    killer {
      name
    }
  }
`;

/**
 * One page of a team's features with their stages (the feature list), from
 * `searchFeatures`: a text in the key or name, tags (all of them),
 * lifecycles and kill state narrow it (null: any), `sort` is key, name or
 * updated ("-" first: descending). Paged server-side, never all rows. The
 * team's environments and kills in force come once per page, not once per
 * row (decision 0031); `listRows` (FeatureList.tsx) joins them to the rows.
 */
export const FEATURE_LIST_QUERY = /* GraphQL */ `
  query FeatureList(
    $teamId: UUID!
    $first: Int!
    $offset: Int!
    $sort: String
    $search: String
    $tags: [String]
    $lifecycles: [FeatureLifecycle]
    $killed: Boolean
  ) {
    searchFeatures(
      teamId: $teamId
      search: $search
      tags: $tags
      lifecycles: $lifecycles
      killed: $killed
      sort: $sort
      first: $first
      offset: $offset
    ) {
      totalCount
      nodes {
        id
        rowId
        teamId
        key
        name
        kind
        valueType
        lifecycle
        killSwitch
        tags
        updatedAt
        stages(orderBy: [PRIMARY_KEY_ASC]) {
          nodes {
            rowId
            status
            environmentId
          }
        }
      }
    }
    environments(condition: { teamId: $teamId }) {
      nodes {
        rowId
        key
        name
        position
      }
    }
    activeFeatureKills(teamId: $teamId) {
      nodes {
        featureId
        ...KillFields
      }
    }
  }
  ${KILL_FIELDS}
`;

/** Everything the feature editor shows, in one round trip. */
export const FEATURE_EDITOR_QUERY = /* GraphQL */ `
  query FeatureEditor($rowId: UUID!) {
    feature(rowId: $rowId) {
      id
      rowId
      teamId
      key
      name
      description
      kind
      valueType
      variants
      offVariant
      sticky
      lifecycle
      killSwitch
      tags
      purpose
      ownerId
      expiresAt
      referenceUrl
      staleReasons
      updatedAt
      dependencies {
        nodes {
          rowId
          dependsOnId
          requiredVariant
          dependsOn {
            rowId
            key
            name
          }
        }
      }
      stages(orderBy: [PRIMARY_KEY_ASC]) {
        nodes {
          rowId
          status
          statusChangedAt
          defaultVariant
          position
          parentStageId
          environment {
            rowId
            key
            name
            type
            position
          }
          criteria(orderBy: [PRIORITY_ASC]) {
            nodes {
              rowId
              name
              priority
              rules
              rolloutBasisPoints
              variant
              split
            }
          }
        }
      }
      versions(first: 20, orderBy: [VERSION_DESC]) {
        nodes {
          rowId
          version
          createdAt
        }
      }
      kills(first: 1, orderBy: [KILLED_AT_DESC]) {
        nodes {
          ...KillFields
        }
      }
      approvalRequests(first: 20, orderBy: [CREATED_AT_DESC]) {
        nodes {
          rowId
          featureStageId
          action
          status
          reason
          createdAt
          requiredApprovals
          requester {
            name
          }
          votes {
            totalCount
          }
        }
      }
      team {
        rowId
        contexts(orderBy: [KEY_ASC]) {
          nodes {
            key
            name
            type
            allowedValues
          }
        }
        segments(orderBy: [KEY_ASC]) {
          nodes {
            key
            name
          }
        }
      }
    }
  }
  ${KILL_FIELDS}
`;

/** The caller's roles in a team (team admins flip kill switches). */
export const TEAM_ROLES_QUERY = /* GraphQL */ `
  query FeatureTeamRoles($teamId: UUID!) {
    currentUser {
      rowId
      teamMemberships(condition: { teamId: $teamId }) {
        nodes {
          roles
        }
      }
    }
  }
`;

/** What the create form offers: the team's pipelines and members (owner). */
export const FEATURE_CREATE_OPTIONS_QUERY = /* GraphQL */ `
  query FeatureCreateOptions($teamId: UUID!) {
    pipelines(condition: { teamId: $teamId }, orderBy: [NAME_ASC]) {
      nodes {
        rowId
        name
      }
    }
    teamMemberships(condition: { teamId: $teamId }) {
      nodes {
        userId
        user {
          rowId
          name
          email
        }
      }
    }
  }
`;

export const CREATE_FEATURE_MUTATION = /* GraphQL */ `
  mutation FeatureCreate($feature: FeatureInput!) {
    createFeature(input: { feature: $feature }) {
      feature {
        rowId
        key
      }
    }
  }
`;

export const ADD_FEATURE_TO_PIPELINE_MUTATION = /* GraphQL */ `
  mutation FeatureAddToPipeline($featureId: UUID!, $pipelineId: UUID!) {
    addFeatureToPipeline(input: { featureId: $featureId, pipelineId: $pipelineId }) {
      result {
        rowId
      }
    }
  }
`;

export const UPDATE_FEATURE_MUTATION = /* GraphQL */ `
  mutation FeatureUpdate($rowId: UUID!, $patch: FeaturePatch!) {
    updateFeature(input: { rowId: $rowId, patch: $patch }) {
      feature {
        rowId
        updatedAt
      }
    }
  }
`;

/** Environments of the team that have no stage of this feature yet. */
export const TEAM_ENVIRONMENTS_QUERY = /* GraphQL */ `
  query FeatureTeamEnvironments($teamId: UUID!) {
    environments(condition: { teamId: $teamId }, orderBy: [POSITION_ASC]) {
      nodes {
        rowId
        key
        name
      }
    }
  }
`;

export const CREATE_FEATURE_STAGE_MUTATION = /* GraphQL */ `
  mutation FeatureStageCreate($teamId: UUID!, $featureId: UUID!, $environmentId: UUID!) {
    createFeatureStage(
      input: {
        featureStage: { teamId: $teamId, featureId: $featureId, environmentId: $environmentId }
      }
    ) {
      featureStage {
        rowId
        status
      }
    }
  }
`;

export const APPROVAL_PREVIEW_QUERY = /* GraphQL */ `
  query FeatureApprovalPreview($stageId: UUID!, $action: String!, $teamId: UUID!) {
    approvalPreview(stageId: $stageId, action: $action) {
      outcome
      requiredApprovals
      eligibleApproverIds
      policyId
      reason
      errorCode
      targetStatus
    }
    teamMemberships(condition: { teamId: $teamId }) {
      nodes {
        userId
        user {
          name
          email
        }
      }
    }
  }
`;

export const REQUEST_STAGE_CHANGE_MUTATION = /* GraphQL */ `
  mutation FeatureRequestStageChange($stageId: UUID!, $action: String!) {
    requestStageChange(input: { stageId: $stageId, action: $action }) {
      result {
        rowId
        status
      }
    }
  }
`;

export const SET_STAGE_CRITERIA_MUTATION = /* GraphQL */ `
  mutation FeatureSetStageCriteria($stageId: UUID!, $criteria: JSON!) {
    setStageCriteria(input: { stageId: $stageId, criteria: $criteria }) {
      result {
        rowId
        priority
        rolloutBasisPoints
      }
    }
  }
`;

export const SET_DEFAULT_VARIANT_MUTATION = /* GraphQL */ `
  mutation FeatureSetDefaultVariant($stageId: UUID!, $defaultVariant: String) {
    updateFeatureStage(input: { rowId: $stageId, patch: { defaultVariant: $defaultVariant } }) {
      featureStage {
        rowId
        defaultVariant
      }
    }
  }
`;

export const REQUEST_STAGE_UPDATE_MUTATION = /* GraphQL */ `
  mutation FeatureRequestStageUpdate(
    $stageId: UUID!
    $criteria: JSON!
    $defaultVariant: String
    $reason: String!
  ) {
    requestStageUpdate(
      input: {
        stageId: $stageId
        criteria: $criteria
        defaultVariant: $defaultVariant
        reason: $reason
      }
    ) {
      result {
        rowId
        status
      }
    }
  }
`;

export const KILL_FEATURE_MUTATION = /* GraphQL */ `
  mutation FeatureKill($featureId: UUID!, $reason: String!, $restoreAfterMinutes: Int) {
    killFeature(
      input: { featureId: $featureId, reason: $reason, restoreAfterMinutes: $restoreAfterMinutes }
    ) {
      result {
        rowId
        killedAt
        reason
        restoreAt
        killer {
          name
        }
      }
    }
  }
`;

export const RESTORE_FEATURE_MUTATION = /* GraphQL */ `
  mutation FeatureRestore($featureId: UUID!) {
    restoreFeature(input: { featureId: $featureId }) {
      clientMutationId
    }
  }
`;

export const ACTIVE_KILLS_QUERY = /* GraphQL */ `
  query FeatureActiveKills($first: Int!, $offset: Int!) {
    activeFeatureKills(first: $first, offset: $offset) {
      totalCount
      nodes {
        ...KillFields
        teamId
        feature {
          rowId
          teamId
          key
          name
          killSwitch
        }
      }
    }
  }
  ${KILL_FIELDS}
`;

/** Candidates for the dependency picker: the team's other features (at most 1,000). */
export const DEPENDENCY_CANDIDATES_QUERY = /* GraphQL */ `
  query FeatureDependencyCandidates($teamId: UUID!) {
    features(condition: { teamId: $teamId }, orderBy: [KEY_ASC], first: 1000) {
      nodes {
        rowId
        key
        name
        variants
        dependencies {
          nodes {
            featureId
            dependsOnId
          }
        }
      }
    }
  }
`;

export const CREATE_DEPENDENCY_MUTATION = /* GraphQL */ `
  mutation FeatureDependencyCreate(
    $teamId: UUID!
    $featureId: UUID!
    $dependsOnId: UUID!
    $requiredVariant: String
  ) {
    createFeatureDependency(
      input: {
        featureDependency: {
          teamId: $teamId
          featureId: $featureId
          dependsOnId: $dependsOnId
          requiredVariant: $requiredVariant
        }
      }
    ) {
      featureDependency {
        rowId
      }
    }
  }
`;

export const DELETE_DEPENDENCY_MUTATION = /* GraphQL */ `
  mutation FeatureDependencyDelete($rowId: UUID!) {
    deleteFeatureDependency(input: { rowId: $rowId }) {
      featureDependency {
        rowId
      }
    }
  }
`;

export const FEATURE_VERSION_DIFF_QUERY = /* GraphQL */ `
  query FeatureVersionDiff($featureId: UUID!, $fromVersion: Int!, $toVersion: Int!) {
    featureVersionDiff(featureId: $featureId, fromVersion: $fromVersion, toVersion: $toVersion)
  }
`;

export const ROLLBACK_FEATURE_MUTATION = /* GraphQL */ `
  mutation FeatureRollbackToVersion($featureId: UUID!, $version: Int!) {
    rollbackFeatureToVersion(input: { featureId: $featureId, version: $version }) {
      result {
        rowId
        updatedAt
      }
    }
  }
`;
