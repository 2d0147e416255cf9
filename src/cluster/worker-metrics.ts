// The workers' metrics, summed for the primary's /metrics. Prometheus reads any drop in a counter as a
// reset, so a worker's counts must not vanish from the sum when it dies: its last collected counters
// and histograms are kept as "retired" and added to every later sum. Gauges (in flight, heap, cache
// size) describe processes that are running, so a dead worker's gauges are dropped.
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { MetricFamily, MetricSample } from './messages.ts';

export class WorkerMetrics {
  private readonly latest = new Map<Worker, readonly MetricFamily[]>();
  private readonly gone = new WeakSet<Worker>();
  private readonly retired = new Map<string, RetiredFamily>();

  /**
   * The sum over `fresh` (what workers answered this scrape), the cumulative part of what the other
   * workers answered last time (one slow to answer must not make the sum dip), and the retired counts.
   */
  async render(fresh: ReadonlyMap<Worker, readonly MetricFamily[]>): Promise<string> {
    for (const [worker, families] of fresh) if (!this.gone.has(worker)) this.latest.set(worker, families);
    const parts: (readonly MetricFamily[])[] = [];
    for (const [worker, families] of this.latest) parts.push(fresh.has(worker) ? families : families.filter(isCumulative));
    parts.push([...this.retired.values()].map(toFamily));
    return AggregatorRegistry.aggregate(parts.map((families) => [...families])).metrics();
  }

  /** A worker exited: its last counts join the retired ones, where they stay. */
  retire(worker: Worker): void {
    this.gone.add(worker);
    const families = this.latest.get(worker);
    this.latest.delete(worker);
    for (const family of families?.filter(isCumulative) ?? []) {
      let retired = this.retired.get(family.name);
      if (retired === undefined) {
        retired = { name: family.name, help: family.help, type: family.type, samples: new Map() };
        this.retired.set(family.name, retired);
      }
      for (const sample of family.values) {
        const key = sampleKey(sample);
        const kept = retired.samples.get(key);
        retired.samples.set(key, { ...sample, value: (kept?.value ?? 0) + sample.value });
      }
    }
  }
}

interface RetiredFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: Map<string, MetricSample>;
}

/** Counters and histograms only grow, and summing them over workers is what their aggregator says. */
function isCumulative(family: MetricFamily): boolean {
  return (family.type === 'counter' || family.type === 'histogram') && (family.aggregator ?? 'sum') === 'sum';
}

function toFamily(retired: RetiredFamily): MetricFamily {
  return { name: retired.name, help: retired.help, type: retired.type, aggregator: 'sum', values: [...retired.samples.values()] };
}

function sampleKey(sample: MetricSample): string {
  const labels = Object.keys(sample.labels).sort().map((k) => [k, sample.labels[k]]);
  return JSON.stringify([sample.metricName ?? '', labels]);
}
