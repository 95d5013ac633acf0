import { bucketAfter } from "./bucket.ts";
import {
  type Context,
  type Matcher,
  type SegmentResolver,
  targetingKeyOf,
} from "./compileCondition.ts";
import { CompileError } from "./CompileError.ts";
import { type CompiledFlag, compileFlag, makeResult } from "./compileFlag.ts";
import { compileRules } from "./compileRules.ts";
import type { AssignmentLookup, EvaluationContext, EvaluationResult } from "./EvaluationResult.ts";
import type { FlagDefinition, SegmentDefinition, Snapshot } from "./Snapshot.ts";

/** Options of {@link compile}. */
export interface EvaluatorOptions {
  /**
   * Stored sticky assignments. Consulted only for flags with `sticky: true`
   * when a weighted split decides; absent means "nothing stored".
   */
  readonly assignments?: AssignmentLookup;
}

const EMPTY_CONTEXT: Context = Object.freeze({});

interface SegmentEntry {
  readonly definition: SegmentDefinition;
  readonly path: string;
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "";
  }
}

function notFound(flagKey: unknown): EvaluationResult {
  return {
    flagKey: typeof flagKey === "string" ? flagKey : describe(flagKey),
    value: null,
    variant: null,
    reason: "ERROR",
    errorCode: "FLAG_NOT_FOUND",
    metadata: undefined,
  };
}

function invalidContext(flag: CompiledFlag): EvaluationResult {
  return (flag.invalidContextResult ??= makeResult(
    flag.key,
    flag.offValue,
    flag.offVariant,
    "ERROR",
    "INVALID_CONTEXT",
  ));
}

function generalError(flag: CompiledFlag): EvaluationResult {
  return (flag.generalErrorResult ??= makeResult(
    flag.key,
    flag.offValue,
    flag.offVariant,
    "ERROR",
    "GENERAL",
  ));
}

function missingKey(flag: CompiledFlag): EvaluationResult {
  const d = flag.defaultResult;
  return (flag.missingKeyResult ??= makeResult(
    flag.key,
    d.value,
    d.variant,
    "ERROR",
    "TARGETING_KEY_MISSING",
  ));
}

/**
 * A compiled snapshot. Evaluation never throws; the update methods throw
 * {@link CompileError} and leave the evaluator unchanged when input is bad.
 *
 * Create one with {@link compile}.
 */
export class FlagEvaluator {
  #revision: number;
  readonly #assignments: AssignmentLookup | undefined;
  /**
   * Flags by index (prerequisites point at indices); holes = removed flags,
   * compacted away once they are the majority (see #compact).
   */
  #flags: (CompiledFlag | undefined)[] = [];
  /** How many live flags have a prerequisite on each index. */
  #users: number[] = [];
  #holes = 0;
  readonly #byKey = new Map<string, CompiledFlag>();
  readonly #indexOf = new Map<string, number>();
  #segments = new Map<string, SegmentEntry>();
  #segmentMatchers = new Map<string, Matcher>();
  /** Transitive segment dependencies of each segment (itself included). */
  #segmentDeps = new Map<string, ReadonlySet<string>>();
  // evaluateAll memo: results stamped with the call's generation.
  #memo: (EvaluationResult | undefined)[] = [];
  #memoGen: number[] = [];
  #gen = 0;

  /** Compiles `snapshot`; prefer {@link compile}. */
  constructor(snapshot: Snapshot, options: EvaluatorOptions = {}) {
    if (typeof snapshot !== "object" || snapshot === null) {
      throw new CompileError("INVALID_SNAPSHOT", "$", "snapshot must be an object");
    }
    if (!Number.isFinite(snapshot.revision)) {
      throw new CompileError("INVALID_SNAPSHOT", "revision", "revision must be a finite number");
    }
    if (!Array.isArray(snapshot.flags)) {
      throw new CompileError("INVALID_SNAPSHOT", "flags", "flags must be an array");
    }
    const segments: unknown = snapshot.segments ?? [];
    if (!Array.isArray(segments)) {
      throw new CompileError("INVALID_SNAPSHOT", "segments", "segments must be an array");
    }
    this.#revision = snapshot.revision;
    this.#assignments = options.assignments;
    segments.forEach((s: SegmentDefinition, i) => {
      if (typeof s !== "object" || s === null || typeof s.key !== "string" || s.key === "") {
        throw new CompileError(
          "INVALID_SNAPSHOT",
          `segments[${i}].key`,
          "segment key must be a non-empty string",
        );
      }
      if (this.#segments.has(s.key)) {
        throw new CompileError(
          "DUPLICATE_KEY",
          `segments[${i}].key`,
          `duplicate segment ${JSON.stringify(s.key)}`,
        );
      }
      this.#segments.set(s.key, { definition: s, path: `segments[${i}]` });
    });
    this.#compileSegments();

    const defs = snapshot.flags;
    defs.forEach((f, i) => {
      const key: unknown = (f as FlagDefinition | null)?.key;
      if (typeof key !== "string" || key === "") {
        throw new CompileError("INVALID_FLAG", `flags[${i}].key`, "key must be a non-empty string");
      }
      if (this.#indexOf.has(key)) {
        throw new CompileError(
          "DUPLICATE_KEY",
          `flags[${i}].key`,
          `duplicate flag ${JSON.stringify(key)}`,
        );
      }
      this.#indexOf.set(key, i);
    });
    defs.forEach((f, i) => {
      const compiled = this.#compileFlag(f, `flags[${i}]`);
      this.#flags[i] = compiled;
      this.#byKey.set(compiled.key, compiled);
    });
    this.#checkCycles();
    this.#growMemo();
    for (const f of this.#flags) this.#use(f, 1);
  }

  /** Revision of the snapshot (as last updated). */
  get revision(): number {
    return this.#revision;
  }

  /** Number of flags. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Internal flag slots, removed flags included until they are compacted
   * away. For monitoring: it stays below `2 × size + 32` under any stream of
   * updates, so memory and `evaluateAll` stay proportional to `size`.
   */
  get capacity(): number {
    return this.#flags.length;
  }

  /** Whether a flag exists. */
  has(flagKey: string): boolean {
    return this.#byKey.has(flagKey);
  }

  /** Flag keys, in snapshot order (added flags last). */
  keys(): string[] {
    const keys: string[] = [];
    for (const f of this.#flags) if (f !== undefined) keys.push(f.key);
    return keys;
  }

  /**
   * Evaluates one flag for a context, following docs/evaluation.md.
   * Never throws: bad input yields reason `ERROR` with an `errorCode`.
   */
  evaluate(flagKey: string, context?: EvaluationContext): EvaluationResult {
    const flag = this.#byKey.get(flagKey);
    if (flag === undefined) return notFound(flagKey);
    let ctx: Context;
    if (typeof context === "object" && context !== null) {
      if (Array.isArray(context)) return invalidContext(flag);
      ctx = context;
    } else if (context === undefined || context === null) {
      ctx = EMPTY_CONTEXT;
    } else {
      return invalidContext(flag);
    }
    if (flag.constant !== null) return flag.constant;
    try {
      return this.#run(flag, ctx, false);
    } catch {
      return generalError(flag);
    }
  }

  /** Evaluates every flag for a context, in snapshot order. Never throws. */
  evaluateAll(context?: EvaluationContext): EvaluationResult[] {
    const flags = this.#flags;
    const out: EvaluationResult[] = [];
    const invalid =
      context !== undefined &&
      context !== null &&
      (typeof context !== "object" || Array.isArray(context));
    const ctx: Context = invalid || context == null ? EMPTY_CONTEXT : context;
    const gen = ++this.#gen;
    const memo = this.#memo;
    const memoGen = this.#memoGen;
    for (let i = 0; i < flags.length; i++) {
      const flag = flags[i];
      if (flag === undefined) continue;
      if (invalid) {
        out.push(invalidContext(flag));
        continue;
      }
      let r: EvaluationResult;
      if (memoGen[i] === gen) {
        r = memo[i]!;
      } else {
        try {
          r = this.#run(flag, ctx, true);
        } catch {
          r = generalError(flag);
        }
        memo[i] = r;
        memoGen[i] = gen;
      }
      out.push(r);
    }
    return out;
  }

  /**
   * Adds or replaces one flag without recompiling the others. Throws
   * {@link CompileError} (and changes nothing) when the definition is invalid,
   * names an unknown prerequisite or would create a dependency cycle.
   */
  upsertFlag(definition: FlagDefinition, revision?: number): void {
    const key: unknown = (definition as FlagDefinition | null)?.key;
    const path = `flags[${JSON.stringify(key)}]`;
    if (typeof key !== "string" || key === "") {
      throw new CompileError("INVALID_FLAG", `${path}.key`, "key must be a non-empty string");
    }
    const existing = this.#indexOf.get(key);
    const index = existing ?? this.#flags.length;
    const compiled = this.#compileFlag(definition, path);
    if (existing !== undefined) this.#checkReach(compiled, index, path);
    this.#use(this.#flags[index], -1);
    this.#use(compiled, 1);
    this.#flags[index] = compiled;
    this.#indexOf.set(key, index);
    this.#byKey.set(key, compiled);
    this.#growMemo();
    if (revision !== undefined) this.#revision = revision;
  }

  /**
   * Removes one flag. Throws {@link CompileError} (`PREREQUISITE_IN_USE`)
   * when another flag depends on it. Unknown keys are ignored.
   */
  removeFlag(flagKey: string, revision?: number): void {
    const index = this.#indexOf.get(flagKey);
    if (index !== undefined) {
      if (this.#users[index]! > 0) {
        const f = this.#flags.find((g) => g?.prerequisites.some((p) => p.index === index))!;
        throw new CompileError(
          "PREREQUISITE_IN_USE",
          `flags[${JSON.stringify(f.key)}].prerequisites`,
          `${f.key} depends on ${flagKey}`,
        );
      }
      this.#use(this.#flags[index], -1);
      this.#flags[index] = undefined;
      this.#memo[index] = undefined;
      this.#indexOf.delete(flagKey);
      this.#byKey.delete(flagKey);
      this.#holes++;
      if (this.#holes > 16 && this.#holes * 2 > this.#flags.length) this.#compact();
    }
    if (revision !== undefined) this.#revision = revision;
  }

  /**
   * Adds, replaces or (with `null`) removes a segment, recompiling only the
   * flags that use it. Throws {@link CompileError} and changes nothing when
   * the result would be invalid (e.g. a removed segment is still referenced).
   */
  upsertSegment(key: string, definition: SegmentDefinition | null, revision?: number): void {
    const before = this.#segments;
    const beforeMatchers = this.#segmentMatchers;
    const beforeDeps = this.#segmentDeps;
    const next = new Map(before);
    const path = `segments[${JSON.stringify(key)}]`;
    if (definition === null) next.delete(key);
    else {
      if (typeof definition !== "object" || definition.key !== key) {
        throw new CompileError("INVALID_SNAPSHOT", `${path}.key`, "segment key does not match");
      }
      next.set(key, { definition, path });
    }
    const affected: [number, CompiledFlag][] = [];
    try {
      this.#segments = next;
      this.#compileSegments();
      this.#flags.forEach((f, i) => {
        if (f?.segments.has(key)) {
          affected.push([i, this.#compileFlag(f.definition, `flags[${JSON.stringify(f.key)}]`)]);
        }
      });
    } catch (error) {
      this.#segments = before;
      this.#segmentMatchers = beforeMatchers;
      this.#segmentDeps = beforeDeps;
      throw error;
    }
    for (const [i, f] of affected) {
      this.#use(this.#flags[i], -1);
      this.#use(f, 1);
      this.#flags[i] = f;
      this.#byKey.set(f.key, f);
    }
    if (revision !== undefined) this.#revision = revision;
  }

  #run(flag: CompiledFlag, ctx: Context, memoize: boolean): EvaluationResult {
    if (flag.fixed !== null) return flag.fixed;
    const pre = flag.prerequisites;
    for (let i = 0; i < pre.length; i++) {
      const p = pre[i]!;
      const dep = this.#flags[p.index]!;
      let r: EvaluationResult;
      if (memoize) {
        if (this.#memoGen[p.index] === this.#gen) r = this.#memo[p.index]!;
        else {
          r = this.#runDependency(dep, ctx, true);
          this.#memo[p.index] = r;
          this.#memoGen[p.index] = this.#gen;
        }
      } else {
        r = this.#runDependency(dep, ctx, false);
      }
      const ok =
        r.errorCode === undefined &&
        (p.variant !== null ? r.variant === p.variant : r.variant !== dep.offVariant);
      if (!ok) return p.blocked;
    }
    if (flag.staticOnly) return flag.staticResult!;
    const criteria = flag.criteria;
    let key: string | undefined;
    let keyRead = false;
    let missing = false;
    let rolloutBucket = -1;
    for (let i = 0; i < criteria.length; i++) {
      const c = criteria[i]!;
      if (c.match !== null && !c.match(ctx)) continue;
      if (!c.needsKey) return c.result!;
      if (!keyRead) {
        key = targetingKeyOf(ctx);
        keyRead = true;
      }
      if (key === undefined) {
        missing = true;
        continue;
      }
      if (c.rollout < 10000) {
        if (rolloutBucket < 0) rolloutBucket = bucketAfter(flag.rolloutPrefix, key);
        if (rolloutBucket >= c.rollout) continue;
      }
      if (c.result !== null) return c.result;
      if (c.storedResults !== null && this.#assignments !== undefined) {
        const stored = this.#lookup(flag.key, key);
        if (stored !== undefined) {
          const r = c.storedResults.get(stored);
          if (r !== undefined) return r;
        }
      }
      const b = bucketAfter(flag.splitPrefix, key);
      const ends = c.ends;
      for (let j = 0; j < ends.length; j++) {
        if (b < ends[j]!) return c.sliceResults[j]!;
      }
    }
    return missing ? missingKey(flag) : flag.defaultResult;
  }

  /**
   * A prerequisite is evaluated completely, as `evaluate` would: a failure
   * inside it (a throwing getter) is its own `GENERAL` error, which fails the
   * prerequisite, rather than an exception that would skip the dependent's
   * remaining steps. So `evaluate` and `evaluateAll` agree in any flag order.
   */
  #runDependency(dep: CompiledFlag, ctx: Context, memoize: boolean): EvaluationResult {
    try {
      return this.#run(dep, ctx, memoize);
    } catch {
      return generalError(dep);
    }
  }

  #lookup(flagKey: string, targetingKey: string): string | undefined {
    try {
      const v = this.#assignments!.get(flagKey, targetingKey);
      return typeof v === "string" ? v : undefined;
    } catch {
      return undefined;
    }
  }

  #compileFlag(definition: FlagDefinition, path: string): CompiledFlag {
    const usedSegments = new Set<string>();
    return compileFlag(definition, path, {
      indexOf: (k) => this.#indexOf.get(k),
      usedSegments,
      resolveSegment: (k, p) => {
        const m = this.#segmentMatchers.get(k);
        if (m === undefined) {
          throw new CompileError("UNKNOWN_SEGMENT", p, `unknown segment ${JSON.stringify(k)}`);
        }
        for (const d of this.#segmentDeps.get(k)!) usedSegments.add(d);
        return m;
      },
    });
  }

  /** (Re)compiles every segment, rejecting unknown references and cycles. */
  #compileSegments(): void {
    const matchers = new Map<string, Matcher>();
    const deps = new Map<string, ReadonlySet<string>>();
    const stack = new Set<string>();
    const build = (key: string): void => {
      const entry = this.#segments.get(key)!;
      stack.add(key);
      const used = new Set<string>([key]);
      const resolve: SegmentResolver = (k, p) => {
        if (!this.#segments.has(k)) {
          throw new CompileError("UNKNOWN_SEGMENT", p, `unknown segment ${JSON.stringify(k)}`);
        }
        if (stack.has(k)) {
          throw new CompileError(
            "SEGMENT_CYCLE",
            p,
            `segment ${JSON.stringify(k)} refers to itself`,
          );
        }
        if (!matchers.has(k)) build(k);
        for (const d of deps.get(k)!) used.add(d);
        return matchers.get(k)!;
      };
      const rules: unknown = entry.definition.rules;
      if (!Array.isArray(rules)) {
        throw new CompileError("INVALID_SNAPSHOT", `${entry.path}.rules`, "rules must be an array");
      }
      const m = compileRules(entry.definition.rules, `${entry.path}.rules`, resolve, false)!;
      stack.delete(key);
      matchers.set(key, m);
      deps.set(key, used);
    };
    for (const key of this.#segments.keys()) if (!matchers.has(key)) build(key);
    this.#segmentMatchers = matchers;
    this.#segmentDeps = deps;
  }

  /** Rejects prerequisite cycles over the whole snapshot (iterative DFS). */
  #checkCycles(): void {
    const flags = this.#flags;
    const state = new Uint8Array(flags.length); // 0 new, 1 on stack, 2 done
    for (let root = 0; root < flags.length; root++) {
      if (state[root] !== 0) continue;
      const stack: [number, number][] = [[root, 0]];
      state[root] = 1;
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const pre = flags[top[0]]!.prerequisites;
        if (top[1] === pre.length) {
          state[top[0]] = 2;
          stack.pop();
          continue;
        }
        const next = pre[top[1]++]!.index;
        if (state[next] === 1) {
          const j = flags[top[0]]!.prerequisites.findIndex((p) => p.index === next);
          throw new CompileError(
            "PREREQUISITE_CYCLE",
            `flags[${top[0]}].prerequisites[${j}].flagKey`,
            `prerequisite cycle through ${flags[next]!.key}`,
          );
        }
        if (state[next] === 0) {
          state[next] = 1;
          stack.push([next, 0]);
        }
      }
    }
  }

  /** Rejects an update of flag `index` whose prerequisites lead back to it. */
  #checkReach(compiled: CompiledFlag, index: number, path: string): void {
    const seen = new Set<number>();
    const todo = compiled.prerequisites.map((p) => p.index);
    while (todo.length > 0) {
      const i = todo.pop()!;
      if (i === index) {
        throw new CompileError(
          "PREREQUISITE_CYCLE",
          `${path}.prerequisites`,
          `prerequisites of ${compiled.key} lead back to it`,
        );
      }
      if (seen.has(i)) continue;
      seen.add(i);
      for (const p of this.#flags[i]!.prerequisites) todo.push(p.index);
    }
  }

  #growMemo(): void {
    while (this.#memoGen.length < this.#flags.length) {
      this.#memoGen.push(0);
      this.#memo.push(undefined);
      this.#users.push(0);
    }
  }

  /** Counts (`delta` 1) or uncounts (-1) the prerequisite edges of `flag`. */
  #use(flag: CompiledFlag | undefined, delta: number): void {
    if (flag === undefined) return;
    for (const p of flag.prerequisites) this.#users[p.index]! += delta;
  }

  /**
   * Drops the holes left by removed flags, keeping the order of the others:
   * indices are renumbered and every prerequisite edge is rewritten. Runs
   * when holes outnumber flags, so its cost is amortised over the removals.
   */
  #compact(): void {
    const remap = new Array<number>(this.#flags.length);
    const flags: CompiledFlag[] = [];
    for (let i = 0; i < this.#flags.length; i++) {
      const f = this.#flags[i];
      if (f === undefined) continue;
      remap[i] = flags.length;
      flags.push(f);
    }
    const users = new Array<number>(flags.length).fill(0);
    for (const f of flags) {
      for (const p of f.prerequisites) {
        p.index = remap[p.index]!;
        users[p.index]!++;
      }
      this.#indexOf.set(f.key, remap[this.#indexOf.get(f.key)!]!);
    }
    this.#flags = flags;
    this.#users = users;
    this.#holes = 0;
    this.#memo = new Array<EvaluationResult | undefined>(flags.length).fill(undefined);
    this.#memoGen = new Array<number>(flags.length).fill(0);
  }
}
