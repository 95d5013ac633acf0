import type { Registry } from "prom-client";

interface Series {
  readonly route: string;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label, `route`, whose `observe` is a few
 * array writes: prom-client's `Histogram` validates and hashes the labels
 * of every observation, which measured as much as the rest of the edge's
 * metrics together on the OFREP paths (decision 0030). It registers in a
 * prom-client `Registry` and reports exactly what a prom-client histogram
 * reports (same JSON from `get()`, so the text format and the cluster
 * aggregation are prom-client's own; a unit test compares the two).
 */
export class RouteHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  #series = new Map<string, Series>();

  constructor(options: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    for (const registry of options.registers) {
      registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
    }
  }

  observe(route: string, seconds: number): void {
    let series = this.#series.get(route);
    if (series === undefined) {
      series = { route, counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
      this.#series.set(route, series);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  reset(): void {
    this.#series = new Map();
  }

  get() {
    const values: {
      value: number;
      metricName: string;
      exemplar?: null;
      labels: Record<string, string | number>;
    }[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({
          value: cumulative,
          metricName: `${this.name}_bucket`,
          exemplar: null,
          labels: { le, route: s.route },
        });
      });
      values.push({
        value: s.count,
        metricName: `${this.name}_bucket`,
        exemplar: null,
        labels: { le: "+Inf", route: s.route },
      });
      values.push({ value: s.sum, metricName: `${this.name}_sum`, labels: { route: s.route } });
      values.push({ value: s.count, metricName: `${this.name}_count`, labels: { route: s.route } });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }
}
