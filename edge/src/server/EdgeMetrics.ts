import { Counter, Gauge, Registry } from "prom-client";

import type { LiveSnapshot } from "../snapshot/LiveSnapshot.ts";
import { RouteHistogram } from "./RouteHistogram.ts";

/** Counts of one label set not yet handed to prom-client (it takes them at scrape time). */
interface Pending<L> {
  readonly labels: L;
  n: number;
}

/** The edge's Prometheus metrics (GET /metrics), in one registry of its own. */
export class EdgeMetrics {
  readonly registry = new Registry();
  // The per-request metrics count in plain numbers; prom-client takes the
  // counts when scraped (`collect`), so the hot path never hashes labels.
  readonly #requestCounts = new Map<
    string,
    Map<number, Pending<{ route: string; status: string }>>
  >();
  readonly #reasonCounts = new Map<string, Pending<{ reason: string }>>();
  readonly requests = new Counter({
    name: "fluxgate_edge_http_requests_total",
    help: "HTTP requests answered, by route and status.",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
    collect: () => {
      for (const byStatus of this.#requestCounts.values()) {
        for (const p of byStatus.values()) {
          if (p.n > 0) this.requests.inc(p.labels, p.n);
          p.n = 0;
        }
      }
    },
  });
  readonly latency = new RouteHistogram({
    name: "fluxgate_edge_http_request_duration_seconds",
    help: "Time from a complete request to its answer, by route.",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [this.registry],
  });
  readonly evaluations = new Counter({
    name: "fluxgate_edge_evaluations_total",
    help: "Flag evaluations, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
    collect: () => {
      for (const p of this.#reasonCounts.values()) {
        if (p.n > 0) this.evaluations.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  });
  readonly notModified = new Counter({
    name: "fluxgate_edge_ofrep_not_modified_total",
    help: "OFREP bulk requests answered 304 without evaluating.",
    registers: [this.registry],
  });
  readonly streamEvents = new Counter({
    name: "fluxgate_edge_stream_events_total",
    help: "Delivery stream events: snapshot, delta, reconnect, checksum_mismatch.",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });
  readonly flushes = new Counter({
    name: "fluxgate_edge_flushes_total",
    help: "Flushes to the backend, by kind (evaluations, assignments) and outcome.",
    labelNames: ["kind", "outcome"] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: "fluxgate_edge_dropped_events_total",
    help: "Events dropped because their buffer was full, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly snapshotWrites = new Counter({
    name: "fluxgate_edge_snapshot_writes_total",
    help: "Writes of the snapshot file, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly undeclared = new Counter({
    name: "fluxgate_edge_undeclared_status_total",
    help: "Answers with a status the route does not declare in /openapi.json (a bug).",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly sseClients = new Gauge({
    name: "fluxgate_edge_sse_clients",
    help: "Open OFREP event streams.",
    registers: [this.registry],
  });

  /** Counts one answer of `route` with `status`, and its latency in seconds. */
  answered(route: string, status: number, seconds: number | null): void {
    let byStatus = this.#requestCounts.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#requestCounts.set(route, byStatus);
    }
    let pending = byStatus.get(status);
    if (pending === undefined) {
      pending = { labels: { route, status: String(status) }, n: 0 };
      byStatus.set(status, pending);
    }
    pending.n++;
    if (seconds !== null) this.latency.observe(route, seconds);
  }

  /** Counts one evaluation with `reason`. */
  evaluated(reason: string): void {
    let pending = this.#reasonCounts.get(reason);
    if (pending === undefined) {
      pending = { labels: { reason }, n: 0 };
      this.#reasonCounts.set(reason, pending);
    }
    pending.n++;
  }

  constructor(snapshot: LiveSnapshot, upstreamConnected: () => boolean) {
    const registry = this.registry;
    new Gauge({
      name: "fluxgate_edge_stream_connected",
      // Across worker processes: the same fact seen N times, not N facts.
      aggregator: "max",
      help: "1 while the delivery stream to the backend is up.",
      registers: [registry],
      collect() {
        this.set(upstreamConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: "fluxgate_edge_snapshot_revision",
      // Across worker processes: the same fact seen N times, not N facts.
      aggregator: "max",
      help: "Revision of the snapshot being served (0: none).",
      registers: [registry],
      collect() {
        this.set(snapshot.revision);
      },
    });
    new Gauge({
      name: "fluxgate_edge_snapshot_flags",
      // Across worker processes: the same fact seen N times, not N facts.
      aggregator: "max",
      help: "Flags in the snapshot being served.",
      registers: [registry],
      collect() {
        this.set(snapshot.evaluator?.size ?? 0);
      },
    });
    new Gauge({
      name: "fluxgate_edge_flag_compile_problems",
      // Across worker processes: the same fact seen N times, not N facts.
      aggregator: "max",
      help: "Compile problems of the snapshot, per flag and code (the flag answers ERROR).",
      labelNames: ["flag_key", "code"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const p of snapshot.problems) this.inc({ flag_key: p.flagKey ?? "", code: p.code });
      },
    });
  }
}
