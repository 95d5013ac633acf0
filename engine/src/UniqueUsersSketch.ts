import { murmur3 } from "./murmur3.ts";

/** Registers of a sketch: precision 10, about 3.25% standard error. */
export const SKETCH_REGISTERS = 1024;
/** Seed of the sketch's hash (0 and 1 are the rollout and split buckets). */
export const SKETCH_SEED = 2;
const INDEX_BITS = 10;
const VALUE_BITS = 32 - INDEX_BITS;
const TWO_32 = 2 ** 32;

/**
 * A HyperLogLog sketch of targeting keys, in the wire format of
 * `FlagMinute.unique_users_hll` (proto/fluxgate/delivery/v1/ingest.proto,
 * docs/decisions/0019-ingest.md): 1,024 one-byte registers; a key's hash is
 * `murmur3_x86_32(UTF-8 key, seed 2)`, its top 10 bits pick the register,
 * which keeps the maximum rank (leading zeros of the other 22 bits, plus
 * one). Sketches merge by register-wise maximum, so per-edge, per-minute
 * sketches add up to unique users over any range, each user counted once;
 * the backend merges and estimates the same way in SQL.
 */
export class UniqueUsersSketch {
  /** The registers (the wire bytes). */
  readonly registers: Uint8Array;

  /** An empty sketch, or one read from the wire (throws unless 1,024 bytes). */
  constructor(registers?: Uint8Array) {
    if (registers !== undefined && registers.length !== SKETCH_REGISTERS) {
      throw new RangeError(`a sketch has ${SKETCH_REGISTERS} registers, got ${registers.length}`);
    }
    this.registers = registers ? Uint8Array.from(registers) : new Uint8Array(SKETCH_REGISTERS);
  }

  /** Adds a targeting key. */
  add(targetingKey: string): void {
    const hash = murmur3(targetingKey, SKETCH_SEED);
    const index = hash >>> VALUE_BITS;
    const rest = (hash << INDEX_BITS) >>> 0;
    const rank = rest === 0 ? VALUE_BITS + 1 : Math.clz32(rest) + 1;
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  /** Adds every user of another sketch (register-wise maximum). */
  merge(other: UniqueUsersSketch): void {
    for (let i = 0; i < SKETCH_REGISTERS; i++) {
      if (other.registers[i]! > this.registers[i]!) this.registers[i] = other.registers[i]!;
    }
  }

  /** True before any key was added. */
  isEmpty(): boolean {
    return this.registers.every((r) => r === 0);
  }

  /** Estimated number of distinct keys added (the formula Postgres uses too). */
  estimate(): number {
    const m = SKETCH_REGISTERS;
    let sum = 0;
    let zeros = 0;
    for (const r of this.registers) {
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    if (raw > TWO_32 / 30) return Math.round(-TWO_32 * Math.log(1 - raw / TWO_32));
    return Math.round(raw);
  }
}
