// Prometheus metrics (prom-client). The per-request ones live in request-metrics.ts; the rest count
// rare events (denials, rate limit refusals and store errors, upstream errors, JWKS fetches, reloads) with
// prom-client's own types.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpstreamFailure } from '../proxy/forward.ts';
import { RequestMetrics } from './request-metrics.ts';

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new RequestMetrics();
  private readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  private readonly denials: Counter<'reason'>;
  private readonly jwksFetches: Counter<'provider' | 'result'>;
  private readonly reloads: Counter<'result'> | undefined;
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
    } = {},
  ) {
    const registers = [this.registry];
    this.requests.register(this.registry);
    this.upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures by upstream and kind (unavailable, timeout, reset)', labelNames: ['upstream', 'kind'], registers });
    this.denials = new Counter({ name: 'portcullis_auth_denials_total', help: 'Requests refused, by reason code', labelNames: ['reason'], registers });
    this.jwksFetches = new Counter({ name: 'portcullis_jwks_fetches_total', help: 'JWKS fetches by provider and result', labelNames: ['provider', 'result'], registers });
    this.reloads = options.reloads === false ? undefined : reloadCounter(this.registry);
    this.rateLimited = new Counter({ name: 'portcullis_rate_limited_total', help: 'Requests refused with 429, by route and the policy that refused them', labelNames: ['route', 'policy'], registers });
    this.rateLimitStoreErrors = new Counter({ name: 'portcullis_rate_limit_store_errors_total', help: 'Rate limit counts the store could not make (unreachable, or slower than rate_limit_timeout)', registers });
    const metrics = this;
    new Gauge({ name: 'portcullis_requests_in_flight', help: 'Requests being handled', registers, collect() { this.set(metrics.inFlight); } });
    const cache = options.tokenCache;
    if (cache) {
      new Gauge({ name: 'portcullis_token_cache_entries', help: 'Verified tokens cached', registers, collect() { this.set(cache().size); } });
      new Gauge({ name: 'portcullis_token_cache_hits', help: 'Token cache hits since the config was loaded', registers, collect() { this.set(cache().hits); } });
      new Gauge({ name: 'portcullis_token_cache_misses', help: 'Token cache misses since the config was loaded', registers, collect() { this.set(cache().misses); } });
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
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

export function reloadCounter(registry: Registry): Counter<'result'> {
  return new Counter({ name: 'portcullis_config_reloads_total', help: 'Config reloads by result (success, failure)', labelNames: ['result'], registers: [registry] });
}
