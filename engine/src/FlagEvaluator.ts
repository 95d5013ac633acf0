import { bucketAfter } from "./bucket.ts";
import { type ContextSchema, contextSchemaOf } from "./checkRules.ts";
import {
  type Context,
  type Matcher,
  type SegmentResolver,
  targetingKeyOf,
} from "./compileCondition.ts";
import { CompileError, type CompileProblem, toProblem } from "./CompileError.ts";
import { type CompiledFlag, compileFlag, isolatedFlag, makeResult } from "./compileFlag.ts";
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
  /** Set when the entry is unusable whatever it refers to (a duplicate key). */
  readonly problem: CompileProblem | null;
}

/**
 * Problems that depend on other flags or segments: an isolated flag with one
 * of these is retried after every update, which may have resolved it.
 */
const RELATIONAL: ReadonlySet<string> = new Set([
  "UNKNOWN_PREREQUISITE",
  "PREREQUISITE_CYCLE",
  "UNKNOWN_SEGMENT",
  "INVALID_SEGMENT",
]);

const pathOf = (key: string) => `flags[${JSON.stringify(key)}]`;

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
  /** The snapshot's context schema (`contexts`); `null` when it has none. */
  readonly #schema: ContextSchema | null;
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
  /** Segments that did not compile. */
  #segmentProblems = new Map<string, CompileProblem>();
  /** Problems of entries without a usable key (reported, never served). */
  readonly #orphans: CompileProblem[] = [];
  /** Keys of isolated flags with a RELATIONAL problem. */
  readonly #retry = new Set<string>();
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
    this.#schema = contextSchemaOf(snapshot);
    this.#assignments = options.assignments;
    // One bad flag or segment never fails the whole snapshot: it is isolated
    // and listed in `problems` (docs/evaluation.md, "Compile problems").
    segments.forEach((s: SegmentDefinition, i) => {
      const key: unknown = (s as SegmentDefinition | null)?.key;
      if (typeof key !== "string" || key === "") {
        this.#orphans.push(
          toProblem(
            new CompileError(
              "INVALID_SNAPSHOT",
              `segments[${i}].key`,
              "segment key must be a non-empty string",
            ),
            {},
          ),
        );
        return;
      }
      const first = this.#segments.get(key);
      if (first !== undefined) {
        // Two definitions: neither can be trusted.
        const error = new CompileError(
          "DUPLICATE_KEY",
          `segments[${i}].key`,
          `duplicate segment ${JSON.stringify(key)}`,
        );
        this.#segments.set(key, {
          ...first,
          problem: first.problem ?? toProblem(error, { segmentKey: key }),
        });
        return;
      }
      this.#segments.set(key, { definition: s, path: `segments[${i}]`, problem: null });
    });
    this.#compileSegments();

    const entries: {
      definition: FlagDefinition;
      path: string;
      duplicate: CompileProblem | null;
    }[] = [];
    snapshot.flags.forEach((f, i) => {
      const key: unknown = (f as FlagDefinition | null)?.key;
      if (typeof key !== "string" || key === "") {
        const error = new CompileError(
          "INVALID_FLAG",
          `flags[${i}].key`,
          "key must be a non-empty string",
        );
        this.#orphans.push(toProblem(error, {}));
        return;
      }
      const first = this.#indexOf.get(key);
      if (first !== undefined) {
        const error = new CompileError(
          "DUPLICATE_KEY",
          `flags[${i}].key`,
          `duplicate flag ${JSON.stringify(key)}`,
        );
        entries[first]!.duplicate ??= toProblem(error, { flagKey: key });
        return;
      }
      this.#indexOf.set(key, entries.length);
      entries.push({ definition: f, path: `flags[${i}]`, duplicate: null });
    });
    entries.forEach((e, i) => {
      const key = e.definition.key;
      const compiled =
        e.duplicate === null
          ? this.#compileFlag(e.definition, key, e.path)
          : isolatedFlag(e.definition, key, e.duplicate, new Set());
      this.#flags[i] = compiled;
      this.#byKey.set(key, compiled);
    });
    this.#isolateCycles(entries.map((e) => e.path));
    this.#growMemo();
    for (const f of this.#flags) {
      this.#use(f, 1);
      if (f!.problem !== null && RELATIONAL.has(f!.problem.code)) this.#retry.add(f!.key);
    }
  }

  /**
   * What did not compile: isolated flags (which answer `ERROR` / `GENERAL`),
   * broken segments (the flags using them are isolated too) and entries
   * without a usable key. Current after updates; empty when all is well.
   */
  get problems(): readonly CompileProblem[] {
    const out = [...this.#orphans, ...this.#segmentProblems.values()];
    for (const f of this.#flags) if (f?.problem) out.push(f.problem);
    return out;
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
   * Adds or replaces one flag without recompiling the others, and returns its
   * problems. An invalid definition (or an unknown prerequisite or segment)
   * is isolated, exactly as {@link compile} would isolate it; flags that were
   * isolated waiting for this one are retried. Throws {@link CompileError}
   * and changes nothing when the key is not a non-empty string or the update
   * would create a prerequisite cycle (`PREREQUISITE_CYCLE`).
   */
  upsertFlag(definition: FlagDefinition, revision?: number): readonly CompileProblem[] {
    const key: unknown = (definition as FlagDefinition | null)?.key;
    const path = pathOf(String(key));
    if (typeof key !== "string" || key === "") {
      throw new CompileError("INVALID_FLAG", `${path}.key`, "key must be a non-empty string");
    }
    const existing = this.#indexOf.get(key);
    const index = existing ?? this.#flags.length;
    const compiled = this.#compileFlag(definition, key, path);
    if (existing !== undefined) this.#checkReach(compiled, index, path);
    this.#install(index, compiled);
    this.#indexOf.set(key, index);
    this.#retryIsolated();
    if (revision !== undefined) this.#revision = revision;
    return compiled.problem === null ? [] : [compiled.problem];
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
      this.#retry.delete(flagKey);
      this.#holes++;
      if (this.#holes > 16 && this.#holes * 2 > this.#flags.length) this.#compact();
      this.#retryIsolated();
    }
    if (revision !== undefined) this.#revision = revision;
  }

  /**
   * Adds, replaces or (with `null`) removes a segment, recompiling only the
   * flags that use it (and retrying isolated ones). Throws
   * {@link CompileError} and changes nothing when the update would break a
   * segment or a flag that works now (an invalid definition, a removed
   * segment still referenced): an edge keeps serving the last good rules.
   */
  upsertSegment(key: string, definition: SegmentDefinition | null, revision?: number): void {
    const before = this.#segments;
    const beforeMatchers = this.#segmentMatchers;
    const beforeDeps = this.#segmentDeps;
    const beforeProblems = this.#segmentProblems;
    const next = new Map(before);
    const path = `segments[${JSON.stringify(key)}]`;
    if (definition === null) next.delete(key);
    else {
      if (typeof definition !== "object" || definition.key !== key) {
        throw new CompileError("INVALID_SNAPSHOT", `${path}.key`, "segment key does not match");
      }
      next.set(key, { definition, path, problem: null });
    }
    const affected: [number, CompiledFlag][] = [];
    try {
      this.#segments = next;
      this.#compileSegments();
      for (const [k, p] of this.#segmentProblems) {
        if (!beforeProblems.has(k)) throw new CompileError(p.code, p.path, p.message);
      }
      this.#flags.forEach((f, i) => {
        if (f?.problem === null && f.segments.has(key)) {
          const c = this.#compileFlag(f.definition, f.key, pathOf(f.key));
          if (c.problem !== null)
            throw new CompileError(c.problem.code, c.problem.path, c.problem.message);
          affected.push([i, c]);
        }
      });
    } catch (error) {
      this.#segments = before;
      this.#segmentMatchers = beforeMatchers;
      this.#segmentDeps = beforeDeps;
      this.#segmentProblems = beforeProblems;
      throw error;
    }
    for (const [i, f] of affected) this.#install(i, f);
    this.#retryIsolated();
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

  /** Compiles one flag; a flag that does not compile comes back isolated. */
  #compileFlag(definition: FlagDefinition, key: string, path: string): CompiledFlag {
    const usedSegments = new Set<string>();
    try {
      return compileFlag(definition, path, {
        indexOf: (k) => this.#indexOf.get(k),
        usedSegments,
        schema: this.#schema,
        resolveSegment: (k, p) => {
          usedSegments.add(k);
          const problem = this.#segmentProblems.get(k);
          if (problem !== undefined) {
            throw new CompileError(
              "INVALID_SEGMENT",
              p,
              `segment ${JSON.stringify(k)} is invalid (${problem.code} at ${problem.path})`,
            );
          }
          const m = this.#segmentMatchers.get(k);
          if (m === undefined) {
            throw new CompileError("UNKNOWN_SEGMENT", p, `unknown segment ${JSON.stringify(k)}`);
          }
          for (const d of this.#segmentDeps.get(k)!) usedSegments.add(d);
          return m;
        },
      });
    } catch (e) {
      const error =
        e instanceof CompileError ? e : new CompileError("INVALID_FLAG", path, String(e));
      return isolatedFlag(definition, key, toProblem(error, { flagKey: key }), usedSegments);
    }
  }

  /** Puts `compiled` at `index`, keeping dependents counts and the retry set right. */
  #install(index: number, compiled: CompiledFlag): void {
    this.#use(this.#flags[index], -1);
    this.#use(compiled, 1);
    this.#flags[index] = compiled;
    this.#byKey.set(compiled.key, compiled);
    if (compiled.problem !== null && RELATIONAL.has(compiled.problem.code)) {
      this.#retry.add(compiled.key);
    } else {
      this.#retry.delete(compiled.key);
    }
    this.#growMemo();
  }

  /**
   * Retries the flags isolated for a missing or broken prerequisite or
   * segment: after an update they may compile, as they would in a full
   * compile of the new state. A retry that would close a cycle stays isolated.
   */
  #retryIsolated(): void {
    for (const key of [...this.#retry]) {
      const index = this.#indexOf.get(key)!;
      const old = this.#flags[index]!;
      const c = this.#compileFlag(old.definition, key, pathOf(key));
      if (c.problem === null) {
        try {
          this.#checkReach(c, index, pathOf(key));
        } catch {
          continue;
        }
      } else if (c.problem.code === old.problem!.code && c.problem.path === old.problem!.path) {
        continue;
      }
      this.#install(index, c);
    }
  }

  /**
   * (Re)compiles every segment. A segment with invalid rules, an unknown
   * reference or a cycle is broken (listed in #segmentProblems), and so is
   * every segment that refers to a broken one.
   */
  #compileSegments(): void {
    const matchers = new Map<string, Matcher>();
    const deps = new Map<string, ReadonlySet<string>>();
    const problems = new Map<string, CompileProblem>();
    const stack = new Set<string>();
    const build = (key: string): void => {
      const entry = this.#segments.get(key)!;
      if (entry.problem !== null) {
        problems.set(key, entry.problem);
        return;
      }
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
        if (!matchers.has(k) && !problems.has(k)) build(k);
        const problem = problems.get(k);
        if (problem !== undefined) {
          throw new CompileError(
            "INVALID_SEGMENT",
            p,
            `segment ${JSON.stringify(k)} is invalid (${problem.code} at ${problem.path})`,
          );
        }
        for (const d of deps.get(k)!) used.add(d);
        return matchers.get(k)!;
      };
      try {
        const rules: unknown = entry.definition.rules;
        if (!Array.isArray(rules)) {
          throw new CompileError(
            "INVALID_SNAPSHOT",
            `${entry.path}.rules`,
            "rules must be an array",
          );
        }
        const m = compileRules(
          entry.definition.rules,
          `${entry.path}.rules`,
          resolve,
          false,
          this.#schema,
        )!;
        matchers.set(key, m);
        deps.set(key, used);
      } catch (e) {
        const error =
          e instanceof CompileError
            ? e
            : new CompileError("INVALID_SNAPSHOT", entry.path, String(e));
        problems.set(key, toProblem(error, { segmentKey: key }));
      } finally {
        stack.delete(key);
      }
    };
    for (const key of this.#segments.keys()) {
      if (!matchers.has(key) && !problems.has(key)) build(key);
    }
    this.#segmentMatchers = matchers;
    this.#segmentDeps = deps;
    this.#segmentProblems = problems;
  }

  /**
   * Isolates every flag that lies on a prerequisite cycle (a strongly
   * connected component of more than one flag; self-references are caught
   * by compileFlag). Iterative Tarjan, so deep chains cannot overflow.
   * Flags that merely depend on a cycle stay: they are blocked at runtime.
   */
  #isolateCycles(paths: readonly string[]): void {
    const flags = this.#flags as CompiledFlag[];
    const n = flags.length;
    const order = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const stack: number[] = [];
    const cycles: number[][] = [];
    let counter = 0;
    for (let root = 0; root < n; root++) {
      if (order[root] !== -1) continue;
      const work: [number, number][] = [[root, 0]];
      order[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = 1;
      while (work.length > 0) {
        const top = work[work.length - 1]!;
        const v = top[0];
        const pre = flags[v]!.prerequisites;
        if (top[1] < pre.length) {
          const w = pre[top[1]++]!.index;
          if (order[w] === -1) {
            order[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = 1;
            work.push([w, 0]);
          } else if (onStack[w] === 1) {
            low[v] = Math.min(low[v]!, order[w]!);
          }
          continue;
        }
        work.pop();
        if (work.length > 0) {
          const u = work[work.length - 1]![0];
          low[u] = Math.min(low[u]!, low[v]!);
        }
        if (low[v] === order[v]) {
          const component: number[] = [];
          let w: number;
          do {
            w = stack.pop()!;
            onStack[w] = 0;
            component.push(w);
          } while (w !== v);
          if (component.length > 1) cycles.push(component);
        }
      }
    }
    for (const component of cycles) {
      const members = new Set(component);
      for (const i of component) {
        const f = flags[i]!;
        const j = f.prerequisites.findIndex((p) => members.has(p.index));
        const error = new CompileError(
          "PREREQUISITE_CYCLE",
          `${paths[i]}.prerequisites[${j}].flagKey`,
          `prerequisite cycle through ${f.prerequisites[j]!.key}`,
        );
        const isolated = isolatedFlag(
          f.definition,
          f.key,
          toProblem(error, { flagKey: f.key }),
          f.segments,
        );
        flags[i] = isolated;
        this.#byKey.set(f.key, isolated);
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
