/*
 * Constant-arrival-rate HTTP load (an open model, like wrk2 or k6's
 * constant-arrival-rate executor). autocannon's `overallRate` is not one: it
 * lets every connection send its whole per-second budget back to back at the
 * start of each second and then idles, so a "100 req/s" run is ten bursts of
 * ten, and it corrects for coordinated omission with an expected interval of
 * ceil(1 / per-connection rate) = 1 ms, adding phantom samples to anything
 * slower. Here request i is due at start + i / rate and its latency is
 * measured from that due time, so a slow server is charged for the requests
 * that queue behind it instead of being given fewer of them. A warm-up at
 * the same rate (opening the connections, filling pools and caches) runs
 * first and is not recorded.
 */
import { Agent, request } from "node:http";

export interface PacedOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** The body of request `i`. */
  body: (i: number) => string;
  /** Requests per second. */
  rate: number;
  durationSeconds: number;
  /** Keep-alive connections; requests due while all are busy wait for one. */
  connections: number;
  /** Per-request timeout; a timed-out request counts as an error. */
  timeoutMs?: number;
  /** Unrecorded run at the same rate first, on the same connections (default 1). */
  warmupSeconds?: number;
}

export interface PacedFigures {
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
}

export async function pacedLoad(options: PacedOptions): Promise<PacedFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  try {
    const warmup = options.warmupSeconds ?? 1;
    if (warmup > 0) await run(options, agent, warmup, 0);
    return await run(options, agent, options.durationSeconds, Math.round(options.rate * warmup));
  } finally {
    agent.destroy();
  }
}

/** One paced run; request bodies are numbered from `firstIndex`. */
async function run(
  options: PacedOptions,
  agent: Agent,
  seconds: number,
  firstIndex: number,
): Promise<PacedFigures> {
  const total = Math.round(options.rate * seconds);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now() + 50;

  const fire = (i: number, due: number) =>
    new Promise<void>((resolve) => {
      const body = options.body(firstIndex + i);
      const finish = (ok: boolean) => {
        if (ok) latencies.push(performance.now() - due);
        else errors++;
        settled++;
        resolve();
      };
      const req = request(
        options.url,
        {
          method: options.method ?? "POST",
          agent,
          headers: { ...options.headers, "content-length": Buffer.byteLength(body) },
          timeout: options.timeoutMs ?? 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () => finish((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
          res.on("error", () => finish(false));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => finish(false));
      req.end(body);
    });

  const inFlight: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Send everything that is due (catching up after a late timer).
      while (sent < total && start + sent * interval <= now) {
        inFlight.push(fire(sent, start + sent * interval));
        sent++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;

  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies.length
      ? round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!)
      : NaN;
  return {
    requestsPerSecond: Math.round(settled / elapsed),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: latencies.length ? round(latencies[latencies.length - 1]!) : NaN,
    requests: settled,
    errors,
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;
