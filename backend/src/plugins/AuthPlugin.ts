import { type PgClient, sideEffectWithPgClientTransaction } from "postgraphile/@dataplan/pg";
import { access, context, object, sideEffect, type Step } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";

import type { AuthService, Identity } from "../auth/AuthService.ts";
import { ClientError } from "../errors/ClientError.ts";

declare global {
  namespace Grafast {
    interface Context {
      auth: AuthService;
      identity: Identity;
      /** The caller's network address (for login rate limits). */
      clientAddress: string;
    }
  }
}

/** Fails with 42501 unless the caller is a system administrator. */
async function requireSystemAdmin(client: PgClient, what: string): Promise<void> {
  const { rows } = await client.query<{ admin: boolean }>({
    text: "select app_public.current_user_is_admin() as admin",
  });
  if (rows[0]?.admin !== true) {
    throw new ClientError("42501", `only system administrators can ${what}`);
  }
}

function sessionOf(identity: Identity): string {
  if (identity.kind !== "session")
    throw new ClientError("UNAUTHENTICATED", "log in first (this needs a user session)");
  return identity.sessionId;
}

/**
 * Login, token refresh, logout and password management: what SQL cannot do
 * (argon2id hashing, JWT signing), as mutations over AuthService.
 */
export const AuthPlugin = extendSchema((build) => {
  const users = build.input.pgRegistry.pgResources.users!;
  const executor = users.executor;

  /**
   * Runs `query(input, hash)` under the caller's identity with a fresh
   * temporary password's hash, once the caller is known to be a system
   * admin (so an anonymous caller costs no password hashing); answers the
   * user and the password, shown this once.
   */
  function withTemporaryPassword<T>(
    $input: Step<T>,
    what: string,
    query: (input: T, hash: string) => { text: string; values: unknown[] },
  ) {
    const $result = sideEffectWithPgClientTransaction(
      executor,
      [$input, context()],
      async (client, [input, ctx]) => {
        await requireSystemAdmin(client, what);
        const secret = await ctx.auth.temporaryPassword();
        const { rows } = await client.query<{ id: string }>(query(input as T, secret.hash));
        return { id: rows[0]!.id, temporaryPassword: secret.password };
      },
    );
    return object({
      user: users.get({ id: access($result, "id") }),
      temporaryPassword: access($result, "temporaryPassword"),
    });
  }

  return {
    typeDefs: gql`
      input LoginInput {
        "Login email address."
        email: String!
        "Password."
        password: String!
      }
      input RefreshTokenInput {
        "A refresh token from login or an earlier refresh; each works once."
        refreshToken: String!
      }
      input ChangePasswordInput {
        "The password in use now (the temporary one after a reset)."
        currentPassword: String!
        "The new password: at least 12 characters, not containing the email."
        newPassword: String!
      }
      input CreateUserInput {
        "Login email address (unique, case-insensitive)."
        email: String!
        "Display name."
        name: String
        "Make the user a system administrator."
        isAdmin: Boolean
      }
      input ResetUserPasswordInput {
        "The user whose password to reset."
        userId: UUID!
      }

      """
      Tokens for an authenticated session. Send the access token as
      \`Authorization: Bearer <accessToken>\`; before it expires, exchange the
      refresh token for new tokens with \`refreshToken\`.
      """
      type AuthTokens {
        "Short-lived JWT (see expiresIn)."
        accessToken: String!
        "Long-lived, single-use token for refreshToken."
        refreshToken: String!
        "Seconds until the access token expires."
        expiresIn: Int!
        "The logged-in user's id."
        userId: UUID!
        "The password is temporary: call changePassword before anything else."
        mustResetPassword: Boolean!
      }
      type LogoutPayload {
        "Number of sessions ended."
        sessionsEnded: Int!
      }
      type ChangePasswordPayload {
        "Whether the password was changed."
        success: Boolean!
      }
      type UserWithTemporaryPassword {
        "The user."
        user: User
        "A temporary password, shown once; the user must replace it at first login."
        temporaryPassword: String!
      }
      type RotateSigningKeyPayload {
        "Key id (kid) of the new signing key."
        kid: String!
      }

      extend type Mutation {
        "Logs in with email and password (rate-limited per account and address)."
        login(input: LoginInput!): AuthTokens!
        "Exchanges a refresh token for new tokens; a reused refresh token ends its session."
        refreshToken(input: RefreshTokenInput!): AuthTokens!
        "Ends the current session: its access and refresh tokens stop working."
        logout: LogoutPayload!
        "Ends every session of the current user."
        logoutEverywhere: LogoutPayload!
        "Changes the current user's password (required after a temporary password); ends other sessions."
        changePassword(input: ChangePasswordInput!): ChangePasswordPayload!
        "Creates a user with a temporary password (system administrators)."
        createUser(input: CreateUserInput!): UserWithTemporaryPassword!
        "Gives a user a new temporary password and ends their sessions (system administrators)."
        resetUserPassword(input: ResetUserPasswordInput!): UserWithTemporaryPassword!
        "Starts signing with a new key; the previous key verifies until existing tokens expire (system administrators)."
        rotateSigningKey: RotateSigningKeyPayload!
      }
    `,
    objects: {
      Mutation: {
        plans: {
          login(_, fieldArgs) {
            const $input = fieldArgs.getRaw("input") as Step<{ email: string; password: string }>;
            return sideEffect([$input, context()], ([input, ctx]) =>
              ctx.auth.login(input.email, input.password, ctx.clientAddress),
            );
          },
          refreshToken(_, fieldArgs) {
            const $input = fieldArgs.getRaw("input") as Step<{ refreshToken: string }>;
            return sideEffect([$input, context()], ([input, ctx]) =>
              ctx.auth.refresh(input.refreshToken),
            );
          },
          logout() {
            return sideEffect(context(), async (ctx) => {
              await ctx.auth.logout(sessionOf(ctx.identity));
              return { sessionsEnded: 1 };
            });
          },
          logoutEverywhere() {
            return sideEffect(context(), async (ctx) => ({
              sessionsEnded: await ctx.auth.logoutEverywhere(sessionOf(ctx.identity)),
            }));
          },
          changePassword(_, fieldArgs) {
            const $input = fieldArgs.getRaw("input") as Step<{
              currentPassword: string;
              newPassword: string;
            }>;
            return sideEffect([$input, context()], async ([input, ctx]) => {
              await ctx.auth.changePassword(
                sessionOf(ctx.identity),
                input.currentPassword,
                input.newPassword,
                ctx.clientAddress,
              );
              return { success: true };
            });
          },
          createUser(_, fieldArgs) {
            return withTemporaryPassword(
              fieldArgs.getRaw("input") as Step<{
                email: string;
                name?: string;
                isAdmin?: boolean;
              }>,
              "create users",
              (input, hash) => ({
                text: "select (app_hidden.create_user($1, $2, $3, $4)).id",
                values: [input.email, input.name ?? "", input.isAdmin ?? false, hash],
              }),
            );
          },
          resetUserPassword(_, fieldArgs) {
            return withTemporaryPassword(
              fieldArgs.getRaw("input") as Step<{ userId: string }>,
              "reset passwords",
              (input, hash) => ({
                text: "select (app_hidden.set_password($1, $2, true)).id",
                values: [input.userId, hash],
              }),
            );
          },
          rotateSigningKey() {
            return sideEffectWithPgClientTransaction(executor, context(), async (client, ctx) => {
              await requireSystemAdmin(client, "rotate signing keys");
              // Old tokens stay valid until they expire: grace = token lifetime + 1 minute.
              return {
                kid: await ctx.auth.keys.rotate(ctx.auth.settings.accessTokenTtlSeconds + 60),
              };
            });
          },
        },
      },
    },
  };
}, "AuthPlugin");
