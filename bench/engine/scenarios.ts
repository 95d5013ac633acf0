import { BOOL, type FlagSpec, type NeutralContext } from "./FlagSpec.ts";

/** A benchmark scenario: flags, the flag evaluated, and how. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** The flag evaluated; `null` means evaluateAll over every flag. */
  readonly flagKey: string | null;
  /** How many contexts to cycle through. */
  readonly contexts: number;
}

const COUNTRIES = ["DE", "FR", "NL", "US", "GB", "JP", "BR", "IN", "ES", "IT"];
const PLANS = ["free", "pro", "team"];
const VERSIONS = ["1.9.0", "2.0.0", "2.2.9", "2.3.0", "2.3.1", "2.4.0", "3.0.0"];

/** mulberry32: a tiny deterministic PRNG so every run sees the same users. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` deterministic users with UUID-like keys. */
export function makeContexts(n: number): NeutralContext[] {
  const rand = prng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const hex = (len: number) =>
    Array.from({ length: len }, () => Math.floor(rand() * 16).toString(16)).join("");
  return Array.from({ length: n }, (_, i) => ({
    key: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
    country: pick(COUNTRIES),
    plan: pick(PLANS),
    appVersion: pick(VERSIONS),
    email: `user${i}@${pick(["example.com", "corp.example", "mail.test"])}`,
    age: 18 + Math.floor(rand() * 60),
  }));
}

const checkout = (key: string, countries: string[], pct: number): FlagSpec => ({
  key,
  variants: BOOL,
  off: "off",
  rules: [
    {
      when: [
        { attr: "country", op: "in", values: countries },
        { attr: "plan", op: "eq", values: ["pro"] },
      ],
      serve: "on",
    },
    {
      when: [{ attr: "appVersion", op: "semverGte", values: ["2.3.0"] }],
      serve: "on",
      rolloutPct: pct,
    },
  ],
  fallthrough: null,
});

const staticOn = (key: string, prerequisite?: string): FlagSpec => ({
  key,
  variants: BOOL,
  off: "off",
  rules: [],
  fallthrough: { serve: "on" },
  ...(prerequisite === undefined ? {} : { prerequisite }),
});

/** Nine rules that never match (three operator kinds), then plan = pro. */
const tenRules: FlagSpec = {
  key: "ten-rules",
  variants: BOOL,
  off: "off",
  rules: [
    ...Array.from({ length: 9 }, (_, i) => ({
      when: [
        i % 3 === 0
          ? { attr: "country" as const, op: "in" as const, values: [`X${i}`, `Y${i}`, `Z${i}`] }
          : i % 3 === 1
            ? { attr: "email" as const, op: "endsWith" as const, values: [`@blocked${i}.example`] }
            : { attr: "age" as const, op: "gt" as const, values: [200 + i] },
      ],
      serve: "on",
    })),
    { when: [{ attr: "plan", op: "eq", values: ["pro"] }], serve: "on" },
  ],
  fallthrough: null,
};

/** A mixed population of flags for evaluateAll. */
function manyFlags(n: number): FlagSpec[] {
  return Array.from({ length: n }, (_, i): FlagSpec => {
    const key = `flag-${i}`;
    switch (i % 4) {
      case 0:
        return staticOn(key);
      case 1:
        return checkout(key, COUNTRIES.slice(i % 7, (i % 7) + 3), (i * 7) % 100);
      case 2:
        return {
          key,
          variants: BOOL,
          off: "off",
          rules: [{ when: [{ attr: "age", op: "gt", values: [18 + (i % 60)] }], serve: "on" }],
          fallthrough: null,
        };
      default:
        return {
          key,
          variants: BOOL,
          off: "off",
          rules: [
            { when: [{ attr: "email", op: "endsWith", values: ["@corp.example"] }], serve: "on" },
          ],
          fallthrough: null,
        };
    }
  });
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "simple",
    description: "on/off flag, no rules",
    flags: [staticOn("simple")],
    flagKey: "simple",
    contexts: 20_000,
  },
  {
    name: "checkout",
    description: "country IN list AND plan = pro → on; appVersion ≥ 2.3.0 → 30% rollout; else off",
    flags: [checkout("checkout", ["DE", "FR", "NL"], 30)],
    flagKey: "checkout",
    contexts: 20_000,
  },
  {
    name: "split4",
    description: "4-way weighted split, 25% each",
    flags: [
      {
        key: "split4",
        variants: { a: "a", b: "b", c: "c", d: "d", off: "off" },
        off: "off",
        rules: [],
        fallthrough: {
          split: [
            ["a", 25],
            ["b", 25],
            ["c", 25],
            ["d", 25],
          ],
        },
      },
    ],
    flagKey: "split4",
    contexts: 20_000,
  },
  {
    name: "rules10",
    description: "10 rules, only the last (plan = pro) can match",
    flags: [tenRules],
    flagKey: "ten-rules",
    contexts: 20_000,
  },
  {
    name: "prereq3",
    description:
      "prerequisite chain of depth 3; the leaf targets country IN list, the top plan = pro",
    flags: [
      {
        key: "chain-0",
        variants: BOOL,
        off: "off",
        rules: [{ when: [{ attr: "plan", op: "eq", values: ["pro"] }], serve: "on" }],
        fallthrough: null,
        prerequisite: "chain-1",
      },
      staticOn("chain-1", "chain-2"),
      staticOn("chain-2", "chain-3"),
      {
        key: "chain-3",
        variants: BOOL,
        off: "off",
        rules: [
          { when: [{ attr: "country", op: "in", values: ["DE", "FR", "NL", "US"] }], serve: "on" },
        ],
        fallthrough: null,
      },
    ],
    flagKey: "chain-0",
    contexts: 20_000,
  },
  {
    name: "all1000",
    description: "evaluateAll over 1,000 mixed flags (figures are flag evaluations/s)",
    flags: manyFlags(1000),
    flagKey: null,
    contexts: 200,
  },
];

/** 10,000 checkout-like flags for the compile-time and heap figures. */
export function tenThousandFlags(): FlagSpec[] {
  return Array.from({ length: 10_000 }, (_, i) =>
    checkout(`flag-${i}`, COUNTRIES.slice(i % 7, (i % 7) + 3), i % 100),
  );
}
