import type {
  Condition,
  ContextDefinition,
  ContextType as EngineContextType,
  CriterionDefinition,
  FlagDefinition,
  FlagKind as EngineFlagKind,
  Operator as EngineOperator,
  RuleGroup as EngineRuleGroup,
  SegmentDefinition,
  StageStatus as EngineStageStatus,
} from "@fluxgate/engine";

import { ClientKey, ClientKind } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import {
  Combinator,
  type ConditionValue,
  type Context,
  ContextType,
  type Criterion,
  Flag,
  FlagKind,
  Operator,
  type RuleGroup,
  Segment,
  StageStatus,
} from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";

/** A client key row of app_private.environment_client_keys. */
export interface ClientKeyRow {
  id: string;
  secret_sha256: Buffer;
  kind: "backend" | "web";
  allowed_origins: string[];
}

const KINDS: Record<EngineFlagKind, FlagKind> = {
  boolean: FlagKind.FLAG_KIND_BOOLEAN,
  string: FlagKind.FLAG_KIND_STRING,
  number: FlagKind.FLAG_KIND_NUMBER,
  json: FlagKind.FLAG_KIND_JSON,
};

/**
 * Engine names map to proto names by prefix: `DEPLOYED` is
 * `STAGE_STATUS_DEPLOYED`. Looked up once per name (a snapshot maps tens
 * of thousands of them).
 */
function enumOf<T>(values: Record<string, T>, prefix: string): (name: string) => T {
  const known = new Map<string, T>();
  return (name) => {
    let value = known.get(name);
    if (value === undefined) {
      value = values[`${prefix}${name}`];
      if (value === undefined) throw new Error(`no ${prefix}${name} in the delivery protocol`);
      known.set(name, value);
    }
    return value;
  };
}

const operatorOf = enumOf<Operator>(Operator, "OPERATOR_");
const stageStatusOf = enumOf<StageStatus>(StageStatus, "STAGE_STATUS_");

function conditionValue(value: string | number | boolean): ConditionValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "number") return { numberValue: value };
  return { boolValue: value };
}

function ruleGroups(groups: readonly EngineRuleGroup[] | undefined): RuleGroup[] {
  return (groups ?? []).map((group) => ({
    combinator: group.combinator === "OR" ? Combinator.COMBINATOR_OR : Combinator.COMBINATOR_AND,
    conditions: group.conditions.map((condition: Condition) =>
      "segment" in condition
        ? { segment: { segment: condition.segment, negate: condition.negate ?? false } }
        : {
            attribute: {
              attribute: condition.attribute,
              operator: operatorOf(condition.operator satisfies EngineOperator),
              values: (condition.values ?? []).map(conditionValue),
              caseInsensitive: condition.caseInsensitive ?? false,
            },
          },
    ),
  }));
}

function criterion(def: CriterionDefinition, position: number): Criterion {
  return {
    id: def.id ?? "",
    priority: def.priority ?? position,
    rules: ruleGroups(def.rules),
    rolloutBasisPoints: def.rolloutBasisPoints ?? 10_000,
    ...(def.split
      ? {
          split: {
            allocations: def.split.map((slice) => ({
              variant: slice.variant,
              weight: slice.weight,
            })),
          },
        }
      : { variant: def.variant ?? "" }),
  };
}

/**
 * The wire form of an engine flag definition (as environment_snapshot
 * builds it), built in its complete shape (no fromPartial copy).
 */
export function flagToProto(def: FlagDefinition): Flag {
  const flag: Flag = {
    key: def.key,
    kind: KINDS[def.kind ?? "boolean"],
    variants: (def.variants ?? []).map((variant) => ({
      key: variant.key,
      valueJson: JSON.stringify(variant.value) ?? "",
    })),
    offVariant: def.offVariant ?? "off",
    killSwitch: def.killSwitch ?? false,
    sticky: def.sticky ?? false,
    prerequisites: (def.prerequisites ?? []).map((p) =>
      p.variant !== undefined ? { flagKey: p.flagKey, variant: p.variant } : { flagKey: p.flagKey },
    ),
  };
  if (def.onVariant !== undefined) flag.onVariant = def.onVariant;
  if (def.stage) {
    flag.stage = {
      status: stageStatusOf(def.stage.status satisfies EngineStageStatus),
      criteria: (def.stage.criteria ?? []).map(criterion),
    };
    if (def.stage.defaultVariant !== undefined)
      flag.stage.defaultVariant = def.stage.defaultVariant;
  }
  return flag;
}

/** The wire form of an engine segment definition. */
export function segmentToProto(def: SegmentDefinition): Segment {
  return { key: def.key, rules: ruleGroups(def.rules) };
}

/** The wire form of a client key row. */
export function clientKeyToProto(row: ClientKeyRow): ClientKey {
  return {
    id: row.id,
    secretSha256: row.secret_sha256,
    kind: row.kind === "web" ? ClientKind.CLIENT_KIND_WEB : ClientKind.CLIENT_KIND_BACKEND,
    allowedOrigins: row.allowed_origins ?? [],
  };
}

const CONTEXT_TYPES: Record<EngineContextType, ContextType> = {
  string: ContextType.CONTEXT_TYPE_STRING,
  number: ContextType.CONTEXT_TYPE_NUMBER,
  boolean: ContextType.CONTEXT_TYPE_BOOLEAN,
  semver: ContextType.CONTEXT_TYPE_SEMVER,
  date: ContextType.CONTEXT_TYPE_DATE,
};

/** The wire form of a context definition (the team's context schema). */
export function contextToProto(def: ContextDefinition): Context {
  return {
    key: def.key,
    type: CONTEXT_TYPES[def.type],
    allowedValues: (def.allowedValues ?? []).map(conditionValue),
  };
}
