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
 *
 * The driver checks itself: `pacerLagP99` is how late it sent requests
 * (its own timer and event loop, e.g. on a busy machine), and `kept` says
 * whether it held the rate (lag p99 ≤ 1 ms and the rate achieved). When it
 * did not, the latency figures say more about the load generator than
 * about the server; `serviceP50`/`serviceP99` (from the moment a
 * connection took the request) then still bound what the server did.
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
  /** The rate asked for. */
  targetRate: number;
  /** How late the driver itself sent requests after their due time (ms). */
  pacerLagP99: number;
  pacerLagMax: number;
  /** Latency from the moment a connection took the request (no queueing behind busy connections). */
  serviceP50: number;
  serviceP99: number;
  /** Whether the driver held the rate: pacer lag p99 ≤ 1 ms and ≥ 95% of the rate achieved. */
  kept: boolean;
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
  const service: number[] = [];
  const lags: number[] = [];
  let errors = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now() + 50;

  const fire = (i: number, due: number) =>
    new Promise<void>((resolve) => {
      const body = options.body(firstIndex + i);
      lags.push(performance.now() - due);
      let taken = 0;
      const finish = (ok: boolean) => {
        if (ok) {
          const now = performance.now();
          latencies.push(now - due);
          service.push(now - taken);
        } else errors++;
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
      req.on("socket", () => {
        taken = performance.now();
      });
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

  const quantile = (values: number[]) => {
    values.sort((a, b) => a - b);
    return (q: number) =>
      values.length
        ? round(values[Math.min(values.length - 1, Math.floor(q * values.length))]!)
        : NaN;
  };
  const at = quantile(latencies);
  const serviceAt = quantile(service);
  const lagAt = quantile(lags);
  const requestsPerSecond = Math.round(settled / elapsed);
  const pacerLagP99 = lagAt(0.99);
  return {
    requestsPerSecond,
    targetRate: options.rate,
    pacerLagP99,
    pacerLagMax: lagAt(1),
    serviceP50: serviceAt(0.5),
    serviceP99: serviceAt(0.99),
    kept: pacerLagP99 <= 1 && requestsPerSecond >= 0.95 * options.rate,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: at(1),
    requests: settled,
    errors,
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;
