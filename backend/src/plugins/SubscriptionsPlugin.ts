import type { Logger } from "@fluxgate/log";
import { jsonParse } from "postgraphile/@dataplan/json";
import { sideEffectWithPgClient, type WithPgClient } from "postgraphile/@dataplan/pg";
import {
  context,
  type FieldArgs,
  type GrafastSubscriber,
  lambda,
  listen,
  type Step,
} from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";

import { ClientError } from "../errors/ClientError.ts";

declare global {
  namespace Grafast {
    interface Context {
      /** The request's logger (its lines carry the request id). */
      log: Logger;
    }
  }
}

/*
 * Channels written by the history triggers (the `9000-history` block of
 * db/migrations/committed/000002-control-plane-auth-domain-history.sql):
 * `postgraphile:features:<team>` for every change to a feature or its
 * dependencies, stages and criteria; `postgraphile:audit:<team>` for every
 * audit entry; `postgraphile:approvals:<team>` (migration 000008,
 * section 4-governance.sql) for every new or changed approval request and new vote.
 */
const CHANNELS = {
  featureChanged: "postgraphile:features:",
  auditEntryAdded: "postgraphile:audit:",
  approvalRequestChanged: "postgraphile:approvals:",
} as const;

const CAN_READ_TEAM = "select app_hidden.current_user_can_read_team($1::uuid) as ok";

/** The last item of a stream whose subscriber lost access: its error. */
const ENDED = Symbol("subscription ended");
type Ended = { [ENDED]: Error };

/**
 * Wraps `inner` so that every event is delivered only after `mayRead` says
 * the subscriber may still read the team (their session live, their
 * membership in place). The first refusal becomes one last item carrying the
 * error, then the stream ends and the LISTEN is released.
 */
function guardedSubscriber(
  inner: GrafastSubscriber,
  mayRead: () => Promise<boolean>,
  log: Logger,
): GrafastSubscriber {
  return {
    async subscribe(topic) {
      const source = await inner.subscribe(topic);
      let done = false;
      const stop = async () => {
        done = true;
        await source.return?.();
      };
      const iterator: AsyncIterableIterator<unknown> = {
        [Symbol.asyncIterator]: () => iterator,
        async next() {
          if (done) return { done: true, value: undefined };
          const result = await source.next();
          if (result.done || done) return result;
          let ended: Ended | undefined;
          try {
            if (!(await mayRead())) {
              ended = { [ENDED]: new ClientError("42501", "you can no longer read this team") };
            }
          } catch (error) {
            log.error({ err: error }, "subscription access check failed");
            ended = { [ENDED]: new Error("subscription access check failed") };
          }
          if (!ended) return result;
          await stop();
          return { done: false, value: ended };
        },
        async return(value?: unknown) {
          await stop();
          return { done: true, value };
        },
        async throw(error?: unknown) {
          await stop();
          throw error;
        },
      };
      return iterator;
    },
  };
}

/**
 * Live updates for the admin UI: feature changes and the audit feed, per
 * team. Subscribing checks the caller may read the team, and so does every
 * event before it is sent: a logout, a revoked session or a removed
 * membership ends the subscription with a 42501 error. Each event's row is
 * then loaded under the caller's RLS.
 */
export const SubscriptionsPlugin = extendSchema((build) => {
  const { pgResources } = build.input.pgRegistry;
  const users = pgResources.users!;
  const features = pgResources.features;
  const auditLog = pgResources.audit_log;
  const approvalRequests = pgResources.approval_requests;

  /** The channel for `teamId`, once the caller is known to read that team. */
  function authorizedTopic($teamId: Step<string>, prefix: string): Step<string> {
    return sideEffectWithPgClient(users.executor, $teamId, async (client, teamId) => {
      const { rows } = await client.query<{ ok: boolean }>({
        text: CAN_READ_TEAM,
        values: [teamId],
      });
      if (!rows[0]?.ok) throw new ClientError("42501", "you cannot read this team");
      return `${prefix}${teamId}`;
    });
  }

  /**
   * A subscription to one team's channel: authorised when it starts, and
   * again (under the subscriber's own settings) before each event.
   */
  function teamSubscription(prefix: string) {
    return {
      subscribePlan(_: unknown, fieldArgs: FieldArgs) {
        const $teamId = fieldArgs.getRaw("teamId") as Step<string>;
        const $topic = authorizedTopic($teamId, prefix);
        const $subscriber = lambda(
          {
            inner: context().get("pgSubscriber") as Step<GrafastSubscriber>,
            withPgClient: context().get("withPgClient") as Step<WithPgClient>,
            pgSettings: context().get("pgSettings") as Step<Record<string, string>>,
            teamId: $teamId,
            log: context().get("log"),
          },
          ({ inner, withPgClient, pgSettings, teamId, log }) =>
            guardedSubscriber(
              inner,
              () =>
                withPgClient(pgSettings, async (client) => {
                  const { rows } = await client.query<{ ok: boolean }>({
                    text: CAN_READ_TEAM,
                    values: [teamId],
                  });
                  return rows[0]?.ok === true;
                }),
              log,
            ),
        );
        return listen($subscriber, $topic, ($item: Step) =>
          jsonParse(
            lambda($item as Step<string | Ended>, (item) => {
              if (typeof item === "object" && ENDED in item) throw item[ENDED];
              return item;
            }),
          ),
        );
      },
      plan($event: Step) {
        return $event;
      },
    };
  }

  return {
    typeDefs: gql`
      "A change to a feature, its dependencies, stages or criteria."
      type FeatureChangedEvent {
        "The changed feature."
        featureId: UUID!
        "Global revision after the change."
        revision: BigInt!
        "insert, update or delete."
        op: String!
        "The table that changed (features, feature_stages, stage_criteria, ...)."
        entity: String!
        ${features ? `"The feature as it is now (null once deleted)."\n        feature: Feature` : ""}
      }
      "A new entry in a team's audit log."
      type AuditEntryAddedEvent {
        "Id of the new audit entry."
        auditLogId: BigInt!
        ${auditLog ? `"The entry."\n        auditLogEntry: AuditLog` : ""}
      }
      "A new approval request, a vote on one, or a change of its status."
      type ApprovalRequestChangedEvent {
        "The request."
        approvalRequestId: UUID!
        "What changed: approval_requests (the request itself) or approval_votes (a new vote)."
        entity: String!
        "insert or update."
        op: String!
        ${approvalRequests ? `"The request as it is now."\n        approvalRequest: ApprovalRequest` : ""}
      }
      extend type Subscription {
        "Every change to the team's features, as it commits."
        featureChanged(teamId: UUID!): FeatureChangedEvent
        "Every new audit entry of the team, as it commits."
        auditEntryAdded(teamId: UUID!): AuditEntryAddedEvent
        "Every new approval request of the team, vote on one and change of its status, as it commits."
        approvalRequestChanged(teamId: UUID!): ApprovalRequestChangedEvent
      }
    `,
    objects: {
      Subscription: {
        plans: {
          featureChanged: teamSubscription(CHANNELS.featureChanged),
          auditEntryAdded: teamSubscription(CHANNELS.auditEntryAdded),
          approvalRequestChanged: teamSubscription(CHANNELS.approvalRequestChanged),
        },
      },
      ApprovalRequestChangedEvent: {
        plans: {
          approvalRequestId: ($event: any) => $event.get("requestId"),
          entity: ($event: any) => $event.get("entity"),
          op: ($event: any) => $event.get("op"),
          ...(approvalRequests
            ? {
                approvalRequest: ($event: any) =>
                  approvalRequests.get({ id: $event.get("requestId") }),
              }
            : {}),
        },
      },
      FeatureChangedEvent: {
        plans: {
          featureId: ($event: any) => $event.get("featureId"),
          revision: ($event: any) => $event.get("revision"),
          op: ($event: any) => $event.get("op"),
          entity: ($event: any) => $event.get("entity"),
          ...(features
            ? { feature: ($event: any) => features.get({ id: $event.get("featureId") }) }
            : {}),
        },
      },
      AuditEntryAddedEvent: {
        plans: {
          auditLogId: ($event: any) => $event.get("id"),
          ...(auditLog
            ? { auditLogEntry: ($event: any) => auditLog.get({ id: $event.get("id") }) }
            : {}),
        },
      },
    },
  };
}, "SubscriptionsPlugin");
