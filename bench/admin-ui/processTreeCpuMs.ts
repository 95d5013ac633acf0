/*
 * CPU time (user + system) used so far by processes and all their live
 * descendants, from /proc (Linux). On a machine shared with other jobs a
 * server's req/s says how much CPU it was given; its CPU time per request
 * says what a request costs, whoever else runs.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`: 100 on Linux). */
const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: split after it.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // Fields from 3 on: state(3) ppid(4) ... utime(14) stime(15).
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Milliseconds of CPU of `roots` and every live descendant. */
export function processTreeCpuMs(roots: number[]): number {
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.set(Number(entry), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let ticks = 0;
  const pending = roots.filter((pid) => stats.has(pid));
  const seen = new Set<number>();
  while (pending.length) {
    const pid = pending.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)!.ticks;
    pending.push(...(children.get(pid) ?? []));
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
