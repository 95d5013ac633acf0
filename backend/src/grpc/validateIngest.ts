import { createHash } from "node:crypto";

import * as grpc from "@grpc/grpc-js";

import {
  type ReportAssignmentsRequest,
  ReportAssignmentsRequest as ReportAssignmentsRequestCodec,
  type ReportEvaluationsRequest,
  ReportEvaluationsRequest as ReportEvaluationsRequestCodec,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { statusError } from "./statusError.ts";

/** Limits a batch must respect (BACKEND_INGEST_*, backend README). */
export interface IngestLimits {
  /** Flag-minutes per evaluation batch, assignments per assignment batch. */
  maxBatchItems: number;
  /** How far back a minute may be: the metrics retention, in days. */
  retentionDays: number;
}

const BATCH_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const FLAG_KEY = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;
const VARIANT = /^[a-zA-Z0-9._-]{1,64}$/;
const REASONS = new Set(["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "ERROR"]);
/** Counts per flag-minute: 100 variants × 6 reasons. */
const MAX_COUNTS_PER_MINUTE = 600;
const MAX_COUNT = 1_000_000_000n;
const SKETCH_BYTES = 1024;
/** An edge's clock may run this far ahead of the backend's. */
const CLOCK_SKEW_MS = 60_000;
const MAX_TARGETING_KEY = 256;
const MAX_VALUE_JSON = 8 * 1024;
const MAX_REVISION = 2n ** 63n - 1n;

/** An evaluation batch as the SQL function takes it (parallel arrays). */
export interface EvaluationRows {
  batchId: string;
  digest: Buffer;
  revision: string;
  countFlagKeys: string[];
  countMinutes: Date[];
  countVariants: string[];
  countReasons: string[];
  counts: string[];
  sketchFlagKeys: string[];
  sketchMinutes: Date[];
  /** Stored form (ranks), as `bit varying` hex literals. */
  sketches: string[];
}

/** An assignment batch as the SQL function takes it. */
export interface AssignmentRows {
  batchId: string;
  digest: Buffer;
  flagKeys: string[];
  targetingKeyHashes: Buffer[];
  variants: string[];
  values: string[];
  assignedAts: Date[];
}

/** Bits per register in the stored form: ranks are 0 to 23. */
const RANK_BITS = 23;

/**
 * The stored form of a sketch (app_hidden.evaluation_uniques.ranks): each
 * register's rank r as r leading ones in a 23-bit group, so that Postgres
 * merges sketches with a bitwise or.
 */
export function rankBits(registers: Uint8Array): Buffer {
  const bits = Buffer.alloc((registers.length * RANK_BITS) / 8);
  registers.forEach((rank, i) => {
    for (let b = i * RANK_BITS, end = b + rank; b < end; b++) {
      bits[b >> 3] = bits[b >> 3]! | (0x80 >> (b & 7));
    }
  });
  return bits;
}

function invalid(message: string): grpc.ServiceError {
  return statusError(grpc.status.INVALID_ARGUMENT, message);
}

/** Quotes user input in a message: JSON-escaped and cut short. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function checkBatchId(batchId: string): void {
  if (batchId === "") throw invalid("batch_id is required");
  if (batchId.length > 128) throw invalid("batch_id is longer than 128 characters");
  if (!BATCH_ID.test(batchId)) {
    throw invalid(
      `batch_id ${quote(batchId)} may only hold letters, digits, ".", "_", ":" and "-"`,
    );
  }
}

function checkFlagKey(key: string, where: string): void {
  if (!FLAG_KEY.test(key)) throw invalid(`${where}: flag_key ${quote(key)} is not a flag key`);
}

function integer(value: string, where: string, min: bigint, max: bigint): bigint {
  const n = BigInt(value);
  if (n < min || n > max) throw invalid(`${where} must be ${min} to ${max}, got ${value}`);
  return n;
}

/**
 * Checks an evaluation batch's shape (everything that needs no database)
 * and returns its rows; INVALID_ARGUMENT names the first problem. Flag
 * keys and variants are checked against the team by the SQL function.
 */
export function validateEvaluations(
  request: ReportEvaluationsRequest,
  limits: IngestLimits,
  now = Date.now(),
): EvaluationRows {
  checkBatchId(request.batchId);
  integer(request.revision, "revision", 0n, MAX_REVISION);
  if (request.flagMinutes.length === 0) throw invalid("flag_minutes is empty");
  if (request.flagMinutes.length > limits.maxBatchItems) {
    throw invalid(
      `at most ${limits.maxBatchItems} flag_minutes per batch, got ${request.flagMinutes.length}: split it`,
    );
  }
  const oldest = now - limits.retentionDays * 86_400_000;
  const rows: EvaluationRows = {
    batchId: request.batchId,
    digest: createHash("sha256")
      .update(ReportEvaluationsRequestCodec.encode(request).finish())
      .digest(),
    revision: request.revision,
    countFlagKeys: [],
    countMinutes: [],
    countVariants: [],
    countReasons: [],
    counts: [],
    sketchFlagKeys: [],
    sketchMinutes: [],
    sketches: [],
  };
  const seen = new Set<string>();
  request.flagMinutes.forEach((item, i) => {
    const where = `flag_minutes[${i}]`;
    checkFlagKey(item.flagKey, where);
    const minuteSeconds = BigInt(item.minute);
    if (minuteSeconds % 60n !== 0n) {
      throw invalid(`${where}: minute ${item.minute} is not the start of a minute (seconds ÷ 60)`);
    }
    const ms = Number(minuteSeconds) * 1000;
    if (ms > now + CLOCK_SKEW_MS) {
      throw invalid(`${where}: minute ${item.minute} is in the future`);
    }
    if (ms < oldest) {
      throw invalid(
        `${where}: minute ${item.minute} is older than the ${limits.retentionDays}-day retention`,
      );
    }
    const minute = new Date(ms);
    const key = `${item.flagKey}\0${item.minute}`;
    if (seen.has(key))
      throw invalid(`${where}: flag ${quote(item.flagKey)} minute ${item.minute} is listed twice`);
    seen.add(key);
    if (item.counts.length === 0) throw invalid(`${where}: counts is empty`);
    if (item.counts.length > MAX_COUNTS_PER_MINUTE) {
      throw invalid(`${where}: at most ${MAX_COUNTS_PER_MINUTE} counts per flag-minute`);
    }
    const pairs = new Set<string>();
    item.counts.forEach((count, j) => {
      const at = `${where}.counts[${j}]`;
      if (count.variant !== "" && !VARIANT.test(count.variant)) {
        throw invalid(`${at}: variant ${quote(count.variant)} is not a variant key`);
      }
      if (!REASONS.has(count.reason)) {
        throw invalid(
          `${at}: reason ${quote(count.reason)} is not one of ${[...REASONS].join(", ")}`,
        );
      }
      if (count.variant === "" && count.reason !== "ERROR") {
        throw invalid(`${at}: variant is required unless the reason is ERROR`);
      }
      const pair = `${count.variant}\0${count.reason}`;
      if (pairs.has(pair)) {
        throw invalid(
          `${at}: variant ${quote(count.variant)} reason ${count.reason} is listed twice`,
        );
      }
      pairs.add(pair);
      integer(count.count, `${at}: count`, 1n, MAX_COUNT);
      rows.countFlagKeys.push(item.flagKey);
      rows.countMinutes.push(minute);
      rows.countVariants.push(count.variant);
      rows.countReasons.push(count.reason);
      rows.counts.push(count.count);
    });
    const sketch = item.uniqueUsersHll;
    if (sketch.length !== 0) {
      if (sketch.length !== SKETCH_BYTES) {
        throw invalid(
          `${where}: unique_users_hll must be empty or ${SKETCH_BYTES} bytes, got ${sketch.length}`,
        );
      }
      if (sketch.some((register) => register > 23)) {
        throw invalid(`${where}: unique_users_hll has a register above 23`);
      }
      rows.sketchFlagKeys.push(item.flagKey);
      rows.sketchMinutes.push(minute);
      rows.sketches.push(`x${rankBits(sketch).toString("hex")}`);
    }
  });
  return rows;
}

/** Checks an assignment batch's shape and returns its rows (targeting keys hashed). */
export function validateAssignments(
  request: ReportAssignmentsRequest,
  limits: IngestLimits,
  now = Date.now(),
): AssignmentRows {
  checkBatchId(request.batchId);
  if (request.assignments.length === 0) throw invalid("assignments is empty");
  if (request.assignments.length > limits.maxBatchItems) {
    throw invalid(
      `at most ${limits.maxBatchItems} assignments per batch, got ${request.assignments.length}: split it`,
    );
  }
  const rows: AssignmentRows = {
    batchId: request.batchId,
    digest: createHash("sha256")
      .update(ReportAssignmentsRequestCodec.encode(request).finish())
      .digest(),
    flagKeys: [],
    targetingKeyHashes: [],
    variants: [],
    values: [],
    assignedAts: [],
  };
  const seen = new Set<string>();
  request.assignments.forEach((item, i) => {
    const where = `assignments[${i}]`;
    checkFlagKey(item.flagKey, where);
    let hash: Buffer;
    if (item.targetingKey !== "") {
      if (item.targetingKeySha256.length !== 0) {
        throw invalid(`${where}: send targeting_key or targeting_key_sha256, not both`);
      }
      if (item.targetingKey.length > MAX_TARGETING_KEY) {
        throw invalid(`${where}: targeting_key is longer than ${MAX_TARGETING_KEY} characters`);
      }
      hash = createHash("sha256").update(item.targetingKey, "utf8").digest();
    } else if (item.targetingKeySha256.length === 32) {
      hash = Buffer.from(item.targetingKeySha256);
    } else if (item.targetingKeySha256.length === 0) {
      throw invalid(`${where}: targeting_key is required`);
    } else {
      throw invalid(`${where}: targeting_key_sha256 must be 32 bytes`);
    }
    const key = `${item.flagKey}\0${hash.toString("hex")}`;
    if (seen.has(key)) throw invalid(`${where}: this user and flag are listed twice`);
    seen.add(key);
    if (!VARIANT.test(item.variant)) {
      throw invalid(`${where}: variant ${quote(item.variant)} is not a variant key`);
    }
    if (item.valueJson.length > MAX_VALUE_JSON) {
      throw invalid(`${where}: value_json is larger than ${MAX_VALUE_JSON} characters`);
    }
    try {
      JSON.parse(item.valueJson);
    } catch {
      throw invalid(`${where}: value_json is not valid JSON`);
    }
    const at = BigInt(item.assignedAtMs);
    if (at < 0n) throw invalid(`${where}: assigned_at_ms is negative`);
    if (at > BigInt(now + CLOCK_SKEW_MS))
      throw invalid(`${where}: assigned_at_ms is in the future`);
    rows.flagKeys.push(item.flagKey);
    rows.targetingKeyHashes.push(hash);
    rows.variants.push(item.variant);
    rows.values.push(item.valueJson);
    rows.assignedAts.push(new Date(at === 0n ? now : Number(at)));
  });
  return rows;
}
