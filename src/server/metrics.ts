// Prometheus metrics (prom-client). The per-request ones live in request-metrics.ts; the rest count
// rare events (denials, rate limit refusals and store errors, upstream errors, JWKS fetches, reloads) with
// prom-client's own types.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpstreamFailure } from '../proxy/forward.ts';
import type { RetryCondition } from '../proxy/retry.ts';
import type { Upstream } from '../proxy/upstream.ts';
import { RequestMetrics } from './request-metrics.ts';

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new RequestMetrics();
  private readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  private readonly denials: Counter<'reason'>;
  private readonly jwksFetches: Counter<'provider' | 'result'>;
  private readonly reloads: Counter<'result'> | undefined;
  private readonly retries: Counter<'upstream' | 'reason'>;
  private readonly ejections: Counter<'upstream' | 'target'>;
  private readonly queueWaits: Histogram<'upstream'>;
  private readonly rateLimited: Counter<'route' | 'policy'>;
  private readonly rateLimitStoreErrors: Counter;
  /** Requests being handled: read by the gauge at scrape time, not pushed to it per request. */
  inFlight = 0;

  constructor(
    options: {
      defaultMetrics?: boolean;
      /** Count config reloads here (false in cluster workers: the primary counts them once). */
      reloads?: boolean;
      tokenCache?: () => { hits: number; misses: number; size: number };
      /** Configs replaced by a reload but still held by requests in flight. */
      configsRetained?: () => number;
      /** The upstreams in force, for their targets' health and queues at scrape time. */
      upstreams?: () => Iterable<Upstream>;
    } = {},
  ) {
    const registers = [this.registry];
    this.requests.register(this.registry);
    this.upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures by upstream and kind (unavailable, timeout, reset, overloaded, no_healthy)', labelNames: ['upstream', 'kind'], registers });
    this.denials = new Counter({ name: 'portcullis_auth_denials_total', help: 'Requests refused, by reason code', labelNames: ['reason'], registers });
    this.jwksFetches = new Counter({ name: 'portcullis_jwks_fetches_total', help: 'JWKS fetches by provider and result', labelNames: ['provider', 'result'], registers });
    this.reloads = options.reloads === false ? undefined : reloadCounter(this.registry);
    this.retries = new Counter({ name: 'portcullis_upstream_retries_total', help: 'Upstream tries made again, by upstream and reason', labelNames: ['upstream', 'reason'], registers });
    this.ejections = new Counter({ name: 'portcullis_upstream_ejections_total', help: 'Targets ejected by outlier detection', labelNames: ['upstream', 'target'], registers });
    this.queueWaits = new Histogram({
      name: 'portcullis_upstream_queue_wait_seconds',
      help: 'Time requests waited for a free upstream connection (those that waited)',
      labelNames: ['upstream'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const upstreams = options.upstreams;
    if (upstreams) registerUpstreamGauges(registers, upstreams);
    this.rateLimited = new Counter({ name: 'portcullis_rate_limited_total', help: 'Requests refused with 429, by route and the policy that refused them', labelNames: ['route', 'policy'], registers });
    this.rateLimitStoreErrors = new Counter({ name: 'portcullis_rate_limit_store_errors_total', help: 'Rate limit counts the store could not make (unreachable, or slower than rate_limit_timeout)', registers });
    const metrics = this;
    new Gauge({ name: 'portcullis_requests_in_flight', help: 'Requests being handled', registers, collect() { this.set(metrics.inFlight); } });
    const retained = options.configsRetained;
    if (retained) {
      new Gauge({ name: 'portcullis_configs_retained', help: 'Configs replaced by a reload and still held by requests in flight', registers, collect() { this.set(retained()); } });
    }
    const cache = options.tokenCache;
    if (cache) {
      new Gauge({ name: 'portcullis_token_cache_entries', help: 'Verified tokens cached', registers, collect() { this.set(cache().size); } });
      new Gauge({ name: 'portcullis_token_cache_hits', help: 'Token cache hits since the config was loaded', registers, collect() { this.set(cache().hits); } });
      new Gauge({ name: 'portcullis_token_cache_misses', help: 'Token cache misses since the config was loaded', registers, collect() { this.set(cache().misses); } });
    }
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
      for (const name of UNDISCLOSED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  request(route: string, method: string, status: number, seconds: number): void {
    this.requests.record(route, method, status, seconds);
  }

  denial(reason: string): void {
    this.denials.labels(reason).inc();
  }

  upstreamError(upstream: string, kind: UpstreamFailure): void {
    this.upstreamErrors.labels(upstream, kind).inc();
  }

  upstreamRetry(upstream: string, reason: RetryCondition): void {
    this.retries.labels(upstream, reason).inc();
  }

  upstreamEjection(upstream: string, target: string): void {
    this.ejections.labels(upstream, target).inc();
  }

  queueWait(upstream: string, seconds: number): void {
    this.queueWaits.labels(upstream).observe(seconds);
  }

  jwksFetch(provider: string, ok: boolean): void {
    this.jwksFetches.labels(provider, ok ? 'success' : 'failure').inc();
  }

  limited(route: string, policy: string): void {
    this.rateLimited.labels(route, policy).inc();
  }

  rateLimitStoreError(): void {
    this.rateLimitStoreErrors.inc();
  }

  reload(ok: boolean): void {
    this.reloads?.labels(ok ? 'success' : 'failure').inc();
  }
}

/**
 * prom-client's process metrics, minus what tells a scraper how to attack the process: the exact Node.js
 * version (which CVEs apply) and the file-descriptor limit (how many connections exhaust it). Open file
 * descriptors, memory, CPU, event-loop lag and GC stay: they are what an operator watches for leaks and
 * overload.
 */
const UNDISCLOSED_DEFAULT_METRICS = ['portcullis_nodejs_version_info', 'portcullis_process_max_fds'];

export function reloadCounter(registry: Registry): Counter<'result'> {
  return new Counter({ name: 'portcullis_config_reloads_total', help: 'Config reloads by result (success, failure)', labelNames: ['result'], registers: [registry] });
}

/** Read from the upstreams in force when /metrics is scraped: nothing is pushed per request. */
function registerUpstreamGauges(registers: Registry[], upstreams: () => Iterable<Upstream>): void {
  new Gauge({
    name: 'portcullis_upstream_target_healthy',
    help: 'Whether a target gets requests (1) or is out, by active checks or ejection (0)',
    labelNames: ['upstream', 'target'],
    // Each worker checks on its own: in cluster mode a target counts as up only where every worker has it up.
    aggregator: 'min',
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const upstream of upstreams()) for (const t of upstream.targets) this.labels(upstream.name, t.label).set(t.isUp(now) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'portcullis_upstream_pending_requests',
    help: 'Requests waiting for a free upstream connection',
    labelNames: ['upstream'],
    registers,
    collect() {
      this.reset();
      for (const upstream of upstreams()) this.labels(upstream.name).set(upstream.targets.reduce((n, t) => n + t.waiting.length, 0));
    },
  });
}
