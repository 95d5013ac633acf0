/**
 * The feature screens' own GraphQL operations. The feature list and the
 * editor load with one query each; `bench/admin-ui.ts` measures exactly these
 * strings, so what the bench reports is what the screens cost.
 */

/** One page of a team's features with their stages (the feature list). */
export const FEATURE_LIST_QUERY = /* GraphQL */ `
  query FeatureList($teamId: UUID!, $first: Int!, $offset: Int!, $orderBy: [FeatureOrderBy!]) {
    features(condition: { teamId: $teamId }, first: $first, offset: $offset, orderBy: $orderBy) {
      totalCount
      nodes {
        id
        rowId
        key
        name
        kind
        valueType
        lifecycle
        killSwitch
        tags
        updatedAt
        lastEvaluatedAt
        stages(orderBy: [PRIMARY_KEY_ASC]) {
          nodes {
            rowId
            status
            environment {
              rowId
              key
              name
            }
          }
        }
      }
    }
  }
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
    }
  }
`;
