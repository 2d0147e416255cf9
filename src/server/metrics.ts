// Prometheus metrics (prom-client). Label children are looked up once per label set and reused, so the
// request path pays for an increment, not for hashing label objects.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status_class'>;
  private readonly duration: Histogram<'route'>;
  private readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  private readonly denials: Counter<'reason'>;
  private readonly jwksFetches: Counter<'provider' | 'result'>;
  private readonly reloads: Counter<'result'> | undefined;
  readonly inFlight: Gauge;
  private readonly requestChildren = new Map<string, Counter.Internal>();
  private readonly durationChildren = new Map<string, Histogram.Internal<'route'>>();

  constructor(
    options: {
      defaultMetrics?: boolean;
      /** Count config reloads here (false in cluster workers: the primary counts them once). */
      reloads?: boolean;
      tokenCache?: () => { hits: number; misses: number; size: number };
    } = {},
  ) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'portcullis_requests_total', help: 'Requests by route, method and status class', labelNames: ['route', 'method', 'status_class'], registers });
    this.duration = new Histogram({
      name: 'portcullis_request_duration_seconds',
      help: 'Time from request to response end, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures by upstream and kind (unavailable, timeout)', labelNames: ['upstream', 'kind'], registers });
    this.denials = new Counter({ name: 'portcullis_auth_denials_total', help: 'Requests refused, by reason code', labelNames: ['reason'], registers });
    this.jwksFetches = new Counter({ name: 'portcullis_jwks_fetches_total', help: 'JWKS fetches by provider and result', labelNames: ['provider', 'result'], registers });
    this.reloads = options.reloads === false ? undefined : reloadCounter(this.registry);
    this.inFlight = new Gauge({ name: 'portcullis_requests_in_flight', help: 'Requests being handled', registers });
    const cache = options.tokenCache;
    if (cache) {
      new Gauge({ name: 'portcullis_token_cache_entries', help: 'Verified tokens cached', registers, collect() { this.set(cache().size); } });
      new Gauge({ name: 'portcullis_token_cache_hits', help: 'Token cache hits since the config was loaded', registers, collect() { this.set(cache().hits); } });
      new Gauge({ name: 'portcullis_token_cache_misses', help: 'Token cache misses since the config was loaded', registers, collect() { this.set(cache().misses); } });
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
    const cls = STATUS_CLASSES[Math.floor(status / 100) - 1] ?? '5xx';
    const key = `${route}\u0000${m}\u0000${cls}`;
    let counter = this.requestChildren.get(key);
    if (counter === undefined) {
      counter = this.requests.labels(route, m, cls);
      this.requestChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.durationChildren.get(route);
    if (histogram === undefined) {
      histogram = this.duration.labels(route);
      this.durationChildren.set(route, histogram);
    }
    histogram.observe(seconds);
  }

  denial(reason: string): void {
    this.denials.labels(reason).inc();
  }

  upstreamError(upstream: string, kind: 'unavailable' | 'timeout'): void {
    this.upstreamErrors.labels(upstream, kind).inc();
  }

  jwksFetch(provider: string, ok: boolean): void {
    this.jwksFetches.labels(provider, ok ? 'success' : 'failure').inc();
  }

  reload(ok: boolean): void {
    this.reloads?.labels(ok ? 'success' : 'failure').inc();
  }
}

export function reloadCounter(registry: Registry): Counter<'result'> {
  return new Counter({ name: 'portcullis_config_reloads_total', help: 'Config reloads by result (success, failure)', labelNames: ['result'], registers: [registry] });
}
