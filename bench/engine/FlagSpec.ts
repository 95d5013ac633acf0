/**
 * An engine-neutral description of the benchmark flags. Each adapter
 * translates it into its engine's own configuration, so the scenarios are
 * equivalent by construction (and the translators are the place to review).
 */

/** One condition; the attribute is read from the context. */
export interface CondSpec {
  readonly attr: "country" | "plan" | "appVersion" | "email" | "age";
  readonly op: "in" | "eq" | "semverGte" | "endsWith" | "gt";
  readonly values: readonly (string | number)[];
}

/** A rule: all conditions AND'ed; serves `serve` to `rolloutPct`% of keys. */
export interface RuleSpec {
  readonly when: readonly CondSpec[];
  readonly serve: string;
  /**
   * Partial rollout. Only allowed on the last rule with no fallthrough after
   * it: engines disagree on whether excluded keys fall through (FluxGate,
   * GrowthBook) or get the rollout's other slice (flagd, LaunchDarkly), and
   * this way both readings serve the off variant.
   */
  readonly rolloutPct?: number;
}

/** A flag: ordered rules, then a fallthrough. */
export interface FlagSpec {
  readonly key: string;
  /** Variant key → value; boolean flags use `{ on: true, off: false }`. */
  readonly variants: Readonly<Record<string, boolean | string>>;
  /** Served when the flag is off or nothing matches. */
  readonly off: string;
  readonly rules: readonly RuleSpec[];
  /** After the rules: one variant, a percentage split, or `null` (= off). */
  readonly fallthrough:
    { readonly serve: string } | { readonly split: readonly (readonly [string, number])[] } | null;
  /** A boolean flag that must serve `true` first. */
  readonly prerequisite?: string;
}

/** The engine-neutral context. */
export interface NeutralContext {
  readonly key: string;
  readonly country: string;
  readonly plan: string;
  readonly appVersion: string;
  readonly email: string;
  readonly age: number;
}

export const BOOL = { on: true, off: false } as const;

/** Checks the rollout restriction above; adapters call it. */
export function checkSpec(flag: FlagSpec): void {
  flag.rules.forEach((r, i) => {
    if (r.rolloutPct === undefined) return;
    if (i !== flag.rules.length - 1 || flag.fallthrough !== null) {
      throw new Error(`${flag.key}: a rollout must be the last rule`);
    }
  });
}
