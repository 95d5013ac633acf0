import type {
  Condition,
  ConditionValue as EngineConditionValue,
  CriterionDefinition,
  FlagDefinition,
  FlagKind as EngineFlagKind,
  JsonValue,
  Operator as EngineOperator,
  RuleGroup as EngineRuleGroup,
  SegmentDefinition,
  StageStatus as EngineStageStatus,
} from "@fluxgate/engine";

import { type ClientKey, ClientKind } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import {
  Combinator,
  type ConditionValue,
  type Criterion,
  type Flag,
  FlagKind,
  operatorToJSON,
  type RuleGroup,
  type Segment,
  StageStatus,
  stageStatusToJSON,
} from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import type { CallerKey } from "../snapshot/CallerKey.ts";

/*
 * The inverse of backend/src/grpc/toProto.ts: wire messages back into the
 * engine's snapshot model. A value the engine does not know (an enum from a
 * newer backend, malformed variant JSON) is passed through in a form the
 * engine rejects, so that flag is isolated and reported, never guessed.
 */

const KINDS: Partial<Record<FlagKind, EngineFlagKind>> = {
  [FlagKind.FLAG_KIND_BOOLEAN]: "boolean",
  [FlagKind.FLAG_KIND_STRING]: "string",
  [FlagKind.FLAG_KIND_NUMBER]: "number",
  [FlagKind.FLAG_KIND_JSON]: "json",
};

const strip = (name: string, prefix: string) =>
  name.startsWith(prefix) ? name.slice(prefix.length) : name;

function value(v: ConditionValue): EngineConditionValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  // An empty oneof: the engine rejects a non-scalar operand, isolating the flag.
  return null as unknown as EngineConditionValue;
}

function ruleGroups(groups: readonly RuleGroup[]): EngineRuleGroup[] {
  return groups.map((group) => ({
    combinator: group.combinator === Combinator.COMBINATOR_OR ? "OR" : "AND",
    conditions: group.conditions.map((condition): Condition => {
      if (condition.segment) {
        return { segment: condition.segment.segment, negate: condition.segment.negate };
      }
      const a = condition.attribute;
      if (!a) return { attribute: "", operator: "UNSPECIFIED" as EngineOperator };
      return {
        attribute: a.attribute,
        operator: strip(operatorToJSON(a.operator), "OPERATOR_") as EngineOperator,
        values: a.values.map(value),
        caseInsensitive: a.caseInsensitive,
      };
    }),
  }));
}

function criterion(c: Criterion): CriterionDefinition {
  return {
    ...(c.id !== "" ? { id: c.id } : {}),
    priority: c.priority,
    rules: ruleGroups(c.rules),
    rolloutBasisPoints: c.rolloutBasisPoints,
    ...(c.split
      ? { split: c.split.allocations.map((a) => ({ variant: a.variant, weight: a.weight })) }
      : { variant: c.variant ?? "" }),
  };
}

function json(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // Not JSON: an object the engine's kind check refuses (flag isolated).
    return { invalidJson: text };
  }
}

/** The engine definition of a wire flag. */
export function flagFromProto(flag: Flag): FlagDefinition {
  const status =
    flag.stage && flag.stage.status !== StageStatus.STAGE_STATUS_UNSPECIFIED
      ? (strip(stageStatusToJSON(flag.stage.status), "STAGE_STATUS_") as EngineStageStatus)
      : undefined;
  return {
    key: flag.key,
    kind: KINDS[flag.kind] ?? ("unknown" as EngineFlagKind),
    variants: flag.variants.map((v) => ({ key: v.key, value: json(v.valueJson) })),
    offVariant: flag.offVariant,
    ...(flag.onVariant !== undefined ? { onVariant: flag.onVariant } : {}),
    killSwitch: flag.killSwitch,
    sticky: flag.sticky,
    prerequisites: flag.prerequisites.map((p) => ({
      flagKey: p.flagKey,
      ...(p.variant !== undefined ? { variant: p.variant } : {}),
    })),
    stage:
      flag.stage && status
        ? {
            status,
            ...(flag.stage.defaultVariant !== undefined
              ? { defaultVariant: flag.stage.defaultVariant }
              : {}),
            criteria: flag.stage.criteria.map(criterion),
          }
        : null,
  };
}

/** The engine definition of a wire segment. */
export function segmentFromProto(segment: Segment): SegmentDefinition {
  return { key: segment.key, rules: ruleGroups(segment.rules) };
}

/** What the edge checks a caller's key against. */
export function callerKeyFromProto(key: ClientKey): CallerKey {
  return {
    id: key.id,
    secretSha256: Buffer.from(key.secretSha256),
    web: key.kind === ClientKind.CLIENT_KIND_WEB,
    allowedOrigins: [...key.allowedOrigins],
  };
}
