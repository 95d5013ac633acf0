/**
 * Prerequisite cycles, checked before the server would refuse them (CYCLE):
 * a feature may not depend on itself at any depth. The graph is the team's
 * current dependencies with the edited feature's own edges replaced by the
 * draft's.
 */

export interface DependencyEdge {
  /** The dependent feature. */
  featureId: string;
  /** Its prerequisite. */
  dependsOnId: string;
}

/**
 * The path by which choosing `candidateId` as a prerequisite of `featureId`
 * would close a cycle — `[featureId, candidateId, …, featureId]` — or `null`
 * when it would not. Choosing the feature itself is the shortest cycle.
 * `featureId`'s own edges in `edges` are ignored (the draft replaces them):
 * a path that reaches `featureId` ends there.
 */
export function cyclePath(
  featureId: string,
  candidateId: string,
  edges: readonly DependencyEdge[],
): string[] | null {
  if (candidateId === featureId) return [featureId, featureId];
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.featureId === featureId) continue;
    const list = next.get(e.featureId);
    if (list === undefined) next.set(e.featureId, [e.dependsOnId]);
    else list.push(e.dependsOnId);
  }
  // Breadth first: the shortest explanation.
  const parent = new Map<string, string | null>([[candidateId, null]]);
  const queue = [candidateId];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const dep of next.get(node) ?? []) {
      if (parent.has(dep)) continue;
      parent.set(dep, node);
      if (dep === featureId) {
        const path: string[] = [];
        for (let at: string | null = dep; at !== null; at = parent.get(at) ?? null) path.push(at);
        return [featureId, ...path.reverse()];
      }
      queue.push(dep);
    }
  }
  return null;
}

/** Whether choosing `candidateId` as a prerequisite of `featureId` would create a cycle. */
export function wouldCreateCycle(
  featureId: string,
  candidateId: string,
  edges: readonly DependencyEdge[],
): boolean {
  return cyclePath(featureId, candidateId, edges) !== null;
}

/** A feature a dependency may point at. */
export interface PrerequisiteCandidate {
  rowId: string;
  key: string;
  name?: string | null;
  variants: ReadonlyArray<{ key: string }>;
}

export interface DependencyIssue {
  /** Index in the draft list. */
  index: number;
  code: "CYCLE" | "DUPLICATE" | "NOFEATURE" | "NOVAR";
  message: string;
}

/** Names a path of feature ids by their keys, the edited feature as "this feature". */
export function describePath(
  path: readonly string[],
  featureId: string,
  features: readonly PrerequisiteCandidate[],
): string {
  const keys = new Map(features.map((f) => [f.rowId, f.key]));
  return path.map((id) => (id === featureId ? "this feature" : (keys.get(id) ?? id))).join(" → ");
}

/**
 * Problems of a draft list of prerequisites: a cycle (self included), a
 * feature listed twice, an unknown feature, a required variant the
 * prerequisite does not have.
 */
export function checkDependencies(
  featureId: string,
  value: ReadonlyArray<{ dependsOnId: string; requiredVariant?: string | null }>,
  edges: readonly DependencyEdge[],
  features: readonly PrerequisiteCandidate[],
): DependencyIssue[] {
  const issues: DependencyIssue[] = [];
  const byId = new Map(features.map((f) => [f.rowId, f]));
  const seen = new Set<string>();
  value.forEach((d, index) => {
    const path = cyclePath(featureId, d.dependsOnId, edges);
    const feature = byId.get(d.dependsOnId);
    if (path !== null) {
      issues.push({
        index,
        code: "CYCLE",
        message:
          d.dependsOnId === featureId
            ? "A feature cannot depend on itself."
            : `This would create a cycle: ${describePath(path, featureId, features)}.`,
      });
    } else if (seen.has(d.dependsOnId)) {
      issues.push({ index, code: "DUPLICATE", message: "This feature is already a prerequisite." });
    } else if (feature === undefined) {
      issues.push({ index, code: "NOFEATURE", message: "Unknown feature." });
    } else if (
      d.requiredVariant !== null &&
      d.requiredVariant !== undefined &&
      !feature.variants.some((v) => v.key === d.requiredVariant)
    ) {
      issues.push({
        index,
        code: "NOVAR",
        message: `"${d.requiredVariant}" is not a variant of ${feature.key}.`,
      });
    }
    seen.add(d.dependsOnId);
  });
  return issues;
}
