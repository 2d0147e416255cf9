// Per-request metrics (requests by route, method and status class; the duration histogram by route),
// kept in plain arrays and handed to prom-client only when /metrics is read. prom-client's own
// Counter/Histogram hash their label objects on every increment, a cost measured on the request path
// (bench/micro.ts); here a request costs a map lookup and a few array writes.
import type { Registry } from 'prom-client';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
const METHOD_INDEX: Record<string, number> = Object.fromEntries(METHODS.map((m, i) => [m, i]));
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class RouteStats {
  /** [method][status class] -> requests. */
  readonly requests = new Float64Array(METHODS.length * CLASSES.length);
  /** Non-cumulative bucket counts; the last slot is +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
}

/** A value as prom-client's registry renders and its cluster aggregation sums. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class RequestMetrics {
  private readonly routes = new Map<string, RouteStats>();

  record(route: string, method: string, status: number, seconds: number): void {
    let stats = this.routes.get(route);
    if (stats === undefined) {
      stats = new RouteStats();
      this.routes.set(route, stats);
    }
    const m = METHOD_INDEX[method] ?? METHODS.length - 1;
    const c = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 4;
    stats.requests[m * CLASSES.length + c]!++;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    stats.buckets[b]!++;
    stats.sum += seconds;
    stats.count++;
  }

  /** Registers the two metrics; prom-client calls get() on each scrape (and for cluster aggregation). */
  register(registry: Registry): void {
    registry.registerMetric({
      name: 'portcullis_requests_total',
      help: 'Requests by route, method and status class',
      type: 'counter',
      aggregator: 'sum',
      get: () => this.metric('portcullis_requests_total', 'Requests by route, method and status class', 'counter', this.requestValues()),
    } as never);
    registry.registerMetric({
      name: 'portcullis_request_duration_seconds',
      help: 'Time from request to response end, by route',
      type: 'histogram',
      aggregator: 'sum',
      get: () => this.metric('portcullis_request_duration_seconds', 'Time from request to response end, by route', 'histogram', this.durationValues()),
    } as never);
  }

  private metric(name: string, help: string, type: string, values: MetricValue[]) {
    return { name, help, type, values, aggregator: 'sum' };
  }

  private requestValues(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const [route, stats] of this.routes) {
      stats.requests.forEach((value, i) => {
        if (value === 0) return;
        const method = METHODS[Math.floor(i / CLASSES.length)]!;
        values.push({ value, labels: { route, method, status_class: CLASSES[i % CLASSES.length]! } });
      });
    }
    return values;
  }

  private durationValues(): MetricValue[] {
    const values: MetricValue[] = [];
    const bucketName = 'portcullis_request_duration_seconds_bucket';
    for (const [route, stats] of this.routes) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += stats.buckets[i]!;
        values.push({ value: cumulative, labels: { le, route }, metricName: bucketName });
      });
      values.push({ value: stats.count, labels: { le: '+Inf', route }, metricName: bucketName });
      values.push({ value: stats.sum, labels: { route }, metricName: 'portcullis_request_duration_seconds_sum' });
      values.push({ value: stats.count, labels: { route }, metricName: 'portcullis_request_duration_seconds_count' });
    }
    return values;
  }
}
