import type { Operator } from "./types.ts";

/** Operators in words, as the rule builder and the version diff show them. */
export const OPERATOR_LABELS: Record<Operator, string> = {
  EQUALS: "equals",
  NOT_EQUALS: "does not equal",
  IN: "is one of",
  NOT_IN: "is not one of",
  CONTAINS: "contains",
  STARTS_WITH: "starts with",
  ENDS_WITH: "ends with",
  REGEX: "matches the pattern",
  GT: "is greater than",
  GTE: "is at least",
  LT: "is less than",
  LTE: "is at most",
  SEMVER_EQ: "is version",
  SEMVER_GT: "is a version after",
  SEMVER_GTE: "is version or after",
  SEMVER_LT: "is a version before",
  SEMVER_LTE: "is version or before",
  DATE_BEFORE: "is before",
  DATE_AFTER: "is after",
  EXISTS: "is set",
  NOT_EXISTS: "is not set",
};
