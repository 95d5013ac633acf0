/**
 * The dashboard's GraphQL operations; `dashboard.db.test.ts` runs exactly
 * these strings against a real backend with evaluations ingested.
 */

/** What the pickers and the stale-flag list need, and who is who in the team. */
export const DASHBOARD_QUERY = /* GraphQL */ `
  query Dashboard($teamId: UUID!, $maxFeatures: Int!) {
    environments(condition: { teamId: $teamId }, orderBy: [POSITION_ASC]) {
      nodes {
        rowId
        key
        name
        type
      }
    }
    features(condition: { teamId: $teamId }, orderBy: [KEY_ASC], first: $maxFeatures) {
      totalCount
      nodes {
        rowId
        key
        name
        lifecycle
        killSwitch
        expiresAt
        lastEvaluatedAt
        staleReasons
      }
    }
    teamMemberships(condition: { teamId: $teamId }, first: 500) {
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

/** One flag in one environment over the window: per bucket, variant and reason; its users. */
export const FLAG_ANALYTICS_QUERY = /* GraphQL */ `
  query FlagAnalytics(
    $featureId: UUID!
    $environmentId: UUID!
    $since: Datetime!
    $until: Datetime!
    $bucketMinutes: Int!
  ) {
    evaluationsOverTime(
      featureId: $featureId
      environmentId: $environmentId
      since: $since
      until: $until
      bucketMinutes: $bucketMinutes
    ) {
      nodes {
        bucket
        variant
        reason
        evaluations
      }
    }
    uniqueUsers(featureId: $featureId, environmentId: $environmentId, since: $since, until: $until)
    uniqueUsersOverTime(
      featureId: $featureId
      environmentId: $environmentId
      since: $since
      until: $until
      bucketMinutes: $bucketMinutes
    ) {
      nodes {
        bucket
        uniqueUsers
      }
    }
  }
`;

/** A flag's evaluations per bucket in one environment (one per environment to compare them). */
export const FLAG_EVALUATIONS_QUERY = /* GraphQL */ `
  query FlagEvaluations(
    $featureId: UUID!
    $environmentId: UUID!
    $since: Datetime!
    $until: Datetime!
    $bucketMinutes: Int!
  ) {
    evaluationsOverTime(
      featureId: $featureId
      environmentId: $environmentId
      since: $since
      until: $until
      bucketMinutes: $bucketMinutes
    ) {
      nodes {
        bucket
        variant
        reason
        evaluations
      }
    }
  }
`;

/** The most evaluated flags of an environment over the window. */
export const TOP_FLAGS_QUERY = /* GraphQL */ `
  query TopFlags($environmentId: UUID!, $since: Datetime!, $until: Datetime!, $maxFlags: Int!) {
    topFlags(environmentId: $environmentId, since: $since, until: $until, maxFlags: $maxFlags) {
      nodes {
        featureId
        featureKey
        evaluations
        lastEvaluatedAt
      }
    }
  }
`;

/** The team's newest audit entries. */
export const RECENT_ACTIVITY_QUERY = /* GraphQL */ `
  query RecentActivity($teamId: UUID!, $first: Int!) {
    auditLogs(condition: { teamId: $teamId }, orderBy: [ROW_ID_DESC], first: $first) {
      nodes {
        ...ActivityFields
      }
    }
  }
  fragment ActivityFields on AuditLog {
    rowId
    createdAt
    action
    tableName
    recordId
    actorId
    actorApiTokenId
    actorJob
    before
    after
  }
`;

export const AUDIT_ENTRY_ADDED_SUBSCRIPTION = /* GraphQL */ `
  subscription AuditEntryAdded($teamId: UUID!) {
    auditEntryAdded(teamId: $teamId) {
      auditLogId
      auditLogEntry {
        rowId
        createdAt
        action
        tableName
        recordId
        actorId
        actorApiTokenId
        actorJob
        before
        after
      }
    }
  }
`;

export const FEATURE_CHANGED_SUBSCRIPTION = /* GraphQL */ `
  subscription FeatureChanged($teamId: UUID!) {
    featureChanged(teamId: $teamId) {
      featureId
      entity
      op
      revision
    }
  }
`;

export const DASHBOARD_OPERATIONS = {
  DASHBOARD_QUERY,
  FLAG_ANALYTICS_QUERY,
  FLAG_EVALUATIONS_QUERY,
  TOP_FLAGS_QUERY,
  RECENT_ACTIVITY_QUERY,
  AUDIT_ENTRY_ADDED_SUBSCRIPTION,
  FEATURE_CHANGED_SUBSCRIPTION,
};
