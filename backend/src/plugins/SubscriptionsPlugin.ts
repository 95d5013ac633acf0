import { jsonParse } from "postgraphile/@dataplan/json";
import { sideEffectWithPgClient } from "postgraphile/@dataplan/pg";
import { context, type FieldArgs, listen, type Step } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";

import { ClientError } from "../errors/ClientError.ts";

/*
 * Channels written by the history triggers (db/migrations 9000-history.sql):
 * `postgraphile:features:<team>` for every change to a feature or its
 * dependencies, stages and criteria; `postgraphile:audit:<team>` for every
 * audit entry.
 */
const CHANNELS = {
  featureChanged: "postgraphile:features:",
  auditEntryAdded: "postgraphile:audit:",
} as const;

/**
 * Live updates for the admin UI: feature changes and the audit feed, per
 * team. Subscribing checks the caller may read the team; each event's row is
 * then loaded under the caller's RLS.
 */
export const SubscriptionsPlugin = extendSchema((build) => {
  const { pgResources } = build.input.pgRegistry;
  const users = pgResources.users!;
  const features = pgResources.features;
  const auditLog = pgResources.audit_log;

  /** The channel for `teamId`, once the caller is known to read that team. */
  function authorizedTopic($teamId: Step<string>, prefix: string): Step<string> {
    return sideEffectWithPgClient(users.executor, $teamId, async (client, teamId) => {
      const { rows } = await client.query<{ ok: boolean }>({
        text: "select app_hidden.current_user_can_read_team($1::uuid) as ok",
        values: [teamId],
      });
      if (!rows[0]?.ok) throw new ClientError("42501", "you cannot read this team");
      return `${prefix}${teamId}`;
    });
  }

  /** A subscription to one team's channel: authorised, then each event as is. */
  function teamSubscription(prefix: string) {
    return {
      subscribePlan(_: unknown, fieldArgs: FieldArgs) {
        const $topic = authorizedTopic(fieldArgs.getRaw("teamId") as Step<string>, prefix);
        return listen(context().get("pgSubscriber"), $topic, jsonParse);
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
      extend type Subscription {
        "Every change to the team's features, as it commits."
        featureChanged(teamId: UUID!): FeatureChangedEvent
        "Every new audit entry of the team, as it commits."
        auditEntryAdded(teamId: UUID!): AuditEntryAddedEvent
      }
    `,
    objects: {
      Subscription: {
        plans: {
          featureChanged: teamSubscription(CHANNELS.featureChanged),
          auditEntryAdded: teamSubscription(CHANNELS.auditEntryAdded),
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
