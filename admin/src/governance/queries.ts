/**
 * The approvals inbox's GraphQL operations. The inbox reads with one query,
 * stays current through `approvalRequestChanged` (which delivers the request
 * with the same fields), and acts through the five governance mutations;
 * `governance.db.test.ts` runs exactly these strings against a real backend.
 */

/** Everything a request card shows. */
export const APPROVAL_REQUEST_FIELDS = /* GraphQL */ `
  fragment ApprovalRequestFields on ApprovalRequest {
    id
    rowId
    action
    status
    reason
    createdAt
    updatedAt
    decidedAt
    decidedBy
    requiredApprovals
    eligibleApproverIds
    requestedBy
    previousStatus
    autoApproveAt
    overrideReason
    diff
    blastRadius
    proposedDefaultVariant
    feature {
      rowId
      key
      name
    }
    environment {
      rowId
      key
      name
      type
    }
    requester {
      rowId
      name
      email
    }
    policy {
      rowId
      name
      allowAdminOverride
    }
    votes(orderBy: [PRIMARY_KEY_ASC]) {
      nodes {
        rowId
        decision
        comment
        createdAt
        voterId
        voter {
          rowId
          name
          email
        }
      }
    }
  }
`;

/** The newest requests of a team, and the viewer's roles in it. */
export const APPROVALS_INBOX_QUERY = /* GraphQL */ `
  query ApprovalsInbox($teamId: UUID!, $userId: UUID!, $first: Int!) {
    currentUser {
      isAdmin
    }
    teamMemberships(condition: { teamId: $teamId, userId: $userId }) {
      nodes {
        roles
      }
    }
    approvalRequests(condition: { teamId: $teamId }, orderBy: [CREATED_AT_DESC], first: $first) {
      totalCount
      nodes {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

/** Every new request, vote and decision of the team, with the request as it is now. */
export const APPROVAL_REQUEST_CHANGED_SUBSCRIPTION = /* GraphQL */ `
  subscription ApprovalRequestChanged($teamId: UUID!) {
    approvalRequestChanged(teamId: $teamId) {
      approvalRequestId
      entity
      op
      approvalRequest {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

export const APPROVE_MUTATION = /* GraphQL */ `
  mutation ApproveApprovalRequest($requestId: UUID!, $comment: String) {
    approveApprovalRequest(input: { requestId: $requestId, comment: $comment }) {
      result {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

export const REJECT_MUTATION = /* GraphQL */ `
  mutation RejectApprovalRequest($requestId: UUID!, $comment: String) {
    rejectApprovalRequest(input: { requestId: $requestId, comment: $comment }) {
      result {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

export const CANCEL_MUTATION = /* GraphQL */ `
  mutation CancelApprovalRequest($requestId: UUID!) {
    cancelApprovalRequest(input: { requestId: $requestId }) {
      result {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

export const FINALIZE_MUTATION = /* GraphQL */ `
  mutation FinalizeApprovalRequest($requestId: UUID!) {
    finalizeApprovalRequest(input: { requestId: $requestId }) {
      result {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

export const OVERRIDE_MUTATION = /* GraphQL */ `
  mutation OverrideApprovalRequest($requestId: UUID!, $reason: String!) {
    overrideApprovalRequest(input: { requestId: $requestId, reason: $reason }) {
      result {
        ...ApprovalRequestFields
      }
    }
  }
  ${APPROVAL_REQUEST_FIELDS}
`;

/** The teams the viewer belongs to, for `useTeamId` when no team is given. */
export const MY_TEAMS_QUERY = /* GraphQL */ `
  query MyTeams($userId: UUID!) {
    teamMemberships(condition: { userId: $userId }, orderBy: [PRIMARY_KEY_ASC], first: 50) {
      nodes {
        teamId
        team {
          rowId
          name
          slug
        }
      }
    }
  }
`;

/** Every operation of this folder, for the schema validation test. */
export const GOVERNANCE_OPERATIONS = {
  APPROVALS_INBOX_QUERY,
  APPROVAL_REQUEST_CHANGED_SUBSCRIPTION,
  APPROVE_MUTATION,
  REJECT_MUTATION,
  CANCEL_MUTATION,
  FINALIZE_MUTATION,
  OVERRIDE_MUTATION,
  MY_TEAMS_QUERY,
};
