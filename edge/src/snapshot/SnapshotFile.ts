import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/** One entity of a stored snapshot: its kind, key and wire bytes (base64). */
export interface StoredEntity {
  kind: string;
  key: string;
  bytes: string;
}

/** A snapshot as the edge keeps it on disk (the stream's state, verbatim). */
export interface StoredSnapshot {
  revision: string;
  environment: string;
  /** Hex XOR checksum of the entities (decision 0016). */
  checksum: string;
  entities: StoredEntity[];
}

const FORMAT = "fluxgate-edge-snapshot/1";

/** Why a snapshot file was not used. */
export class SnapshotFileError extends Error {
  override name = "SnapshotFileError";
}

/**
 * Writes atomically: a temporary file beside the target, flushed to disk,
 * then renamed over it, so a crash leaves the old file or the new one and
 * never half of one. The body carries its own SHA-256.
 */
export async function writeSnapshotFile(path: string, snapshot: StoredSnapshot): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const body = JSON.stringify(snapshot);
  const text = JSON.stringify({
    format: FORMAT,
    sha256: createHash("sha256").update(body).digest("hex"),
    snapshot: body,
  });
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, "w", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Reads a snapshot file; undefined when there is none. A file that is not
 * ours, truncated or altered throws {@link SnapshotFileError} (the caller
 * reports it and ignores the file); the stream state then recomputes the
 * checksum from the entities before anything is served.
 */
export async function readSnapshotFile(path: string): Promise<StoredSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SnapshotFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let outer: { format?: unknown; sha256?: unknown; snapshot?: unknown };
  try {
    outer = JSON.parse(text) as typeof outer;
  } catch {
    throw new SnapshotFileError(`${path} is not JSON (truncated or corrupt)`);
  }
  if (outer?.format !== FORMAT || typeof outer.snapshot !== "string") {
    throw new SnapshotFileError(`${path} is not a ${FORMAT} file`);
  }
  const digest = createHash("sha256").update(outer.snapshot).digest("hex");
  if (digest !== outer.sha256) {
    throw new SnapshotFileError(`${path} does not match its SHA-256 (corrupt)`);
  }
  const snapshot = JSON.parse(outer.snapshot) as StoredSnapshot;
  if (
    typeof snapshot?.revision !== "string" ||
    typeof snapshot.environment !== "string" ||
    typeof snapshot.checksum !== "string" ||
    !Array.isArray(snapshot.entities)
  ) {
    throw new SnapshotFileError(`${path} lacks revision, environment, checksum or entities`);
  }
  return snapshot;
}
