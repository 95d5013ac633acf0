import type { Delta } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import type { Flag } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import {
  addDelete,
  addUpsert,
  emptyDelta,
  type EntityKind,
  type EnvironmentState,
} from "./EnvironmentState.ts";

/** A change-feed entry as replay reads it (app_public.change_feed, migration 000008, section 2-feed.sql). */
export interface FeedEntry {
  entity: string;
  entity_id: string | null;
  feature_id: string | null;
  op: "insert" | "update" | "delete";
  entity_key: string | null;
  previous_key: string | null;
  feature_key: string | null;
}

/** Tables whose entries replay understands; any other one costs a snapshot. */
const KNOWN = new Set([
  "environments",
  "contexts",
  "segments",
  "features",
  "feature_dependencies",
  "feature_stages",
  "stage_criteria",
  "clients",
]);

/** Tables with a key column: an entry of one without its key predates the keys (a snapshot). */
const KEYED: Record<string, EntityKind | undefined> = {
  segments: "segment",
  contexts: "context",
};

/**
 * The delivered entities the entries touched by kind, and the new keys of
 * renamed flags; null when replay cannot tell (an entry of a table it does
 * not know, or one written before the feed recorded keys).
 */
export function touchedBy(
  entries: readonly FeedEntry[],
): { touched: Map<EntityKind, Set<string>>; renamed: Set<string> } | null {
  const touched = new Map<EntityKind, Set<string>>([
    ["flag", new Set()],
    ["segment", new Set()],
    ["client_key", new Set()],
    ["context", new Set()],
  ]);
  const deletedFeatures = new Set(
    entries.filter((e) => e.entity === "features" && e.op === "delete").map((e) => e.feature_id),
  );
  const renamed = new Set<string>();
  for (const entry of entries) {
    if (!KNOWN.has(entry.entity)) return null;
    if (entry.feature_id !== null) {
      if (entry.feature_key !== null) touched.get("flag")!.add(entry.feature_key);
      // A row deleted with its feature: the feature's own entry has the key.
      else if (!deletedFeatures.has(entry.feature_id)) return null;
    }
    if (entry.entity === "features") {
      if (entry.feature_key === null) return null;
      if (entry.previous_key !== null) {
        touched.get("flag")!.add(entry.previous_key);
        renamed.add(entry.feature_key);
      }
    }
    const kind = KEYED[entry.entity];
    if (kind) {
      if (entry.entity_key === null) return null;
      touched.get(kind)!.add(entry.entity_key);
      if (entry.previous_key !== null) touched.get(kind)!.add(entry.previous_key);
    }
    if (entry.entity === "clients") {
      if (entry.entity_id === null) return null;
      touched.get("client_key")!.add(entry.entity_id);
    }
  }
  return { touched, renamed };
}

/**
 * The one delta taking an edge from the state it held at the revision
 * before `entries` to `state`: for every entity the entries touched, its
 * current form, or a delete when `state` no longer has it. A renamed
 * flag also touches the flags that name it as a prerequisite (their
 * encoding carries its key). Null when replay cannot tell what changed or
 * the delta would carry more than `maxEntities` entities (a snapshot is as
 * cheap by then, and chunked).
 */
export function replayDelta(
  state: EnvironmentState,
  entries: readonly FeedEntry[],
  options: { includeContexts: boolean; maxEntities: number },
): Delta | null {
  const found = touchedBy(entries);
  if (!found) return null;
  const { touched, renamed } = found;
  if (renamed.size > 0) {
    for (const entity of state.entities.values()) {
      if (entity.kind !== "flag") continue;
      const flag = entity.message as Flag;
      if (flag.prerequisites.some((p) => renamed.has(p.flagKey))) {
        touched.get("flag")!.add(flag.key);
      }
    }
  }
  if (!options.includeContexts) touched.delete("context");
  let count = 0;
  for (const keys of touched.values()) count += keys.size;
  if (count > options.maxEntities) return null;
  const delta = emptyDelta();
  for (const [kind, keys] of touched) {
    for (const key of [...keys].sort()) {
      const entity = state.get(kind, key);
      if (entity) addUpsert(delta, kind, entity.message);
      else addDelete(delta, kind, key);
    }
  }
  return delta;
}
