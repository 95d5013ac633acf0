/** The auth provider's GraphQL operations (validated against schema.graphql in operations.test.ts). */

export const LOGIN = /* GraphQL */ `
  mutation Login($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) {
      accessToken
      refreshToken
      expiresIn
      userId
      mustResetPassword
    }
  }
`;

export const LOGOUT = /* GraphQL */ `
  mutation Logout {
    logout {
      sessionsEnded
    }
  }
`;

export const CHANGE_PASSWORD = /* GraphQL */ `
  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
    changePassword(input: { currentPassword: $currentPassword, newPassword: $newPassword }) {
      success
    }
  }
`;

/** Who is logged in, and their teams with roles (the permissions). */
export const CURRENT_USER = /* GraphQL */ `
  query CurrentUser {
    currentUser {
      rowId
      name
      email
      isAdmin
      mustResetPassword
      teamMemberships(first: 500) {
        nodes {
          roles
          team {
            rowId
            name
            slug
          }
        }
      }
    }
  }
`;

/** System administrators may act in every team, member or not. */
export const ALL_TEAMS = /* GraphQL */ `
  query AllTeams {
    teams(first: 500, orderBy: [SLUG_ASC]) {
      nodes {
        rowId
        name
        slug
      }
    }
  }
`;
