// CORS (Fetch standard §3.2): which browser origins may read the gateway's responses. Compiled once per
// config from the global `cors` block or a route's own; per request only an origin comparison and, on a
// preflight, a method and a header-list check.
import type { CorsConfig } from '../config/schema.ts';
import { DEFAULTS } from '../config/schema.ts';
import { parseDuration } from '../config/units.ts';
import { matchesOrigin, parseOriginPattern, type OriginPattern } from './origin.ts';

export type PreflightRefusal = 'cors_origin_not_allowed' | 'cors_method_not_allowed' | 'cors_header_not_allowed';

export interface PreflightVerdict {
  readonly allowed: boolean;
  /** Set when refused: the stable code and the sentence the 403 carries. */
  readonly code?: PreflightRefusal;
  readonly message?: string;
}

const ALLOWED: PreflightVerdict = { allowed: true };

export class CorsPolicy {
  readonly credentials: boolean;
  /** origins: ["*"] without credentials: every response says "Access-Control-Allow-Origin: *" and does not vary. */
  readonly anyOrigin: boolean;
  readonly methods: readonly string[];
  readonly headers: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds: number | null;
  /** The header values, joined once. */
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposed: string;
  readonly maxAge: string;
  private readonly exact: ReadonlySet<string>;
  private readonly wildcards: readonly OriginPattern[];
  private readonly methodSet: ReadonlySet<string>;
  private readonly headerSet: ReadonlySet<string>;

  /**
   * `config` has passed validation (check-traffic.ts), so every origin parses. `alsoExpose`: headers the
   * gateway itself adds that a page should be able to read (the rate limit ones).
   */
  constructor(config: CorsConfig, alsoExpose: readonly string[] = []) {
    const patterns = config.origins.map((o) => parseOriginPattern(o)).flatMap((p) => (p.ok ? [p.pattern] : []));
    this.credentials = config.credentials ?? false;
    this.anyOrigin = !this.credentials && patterns.some((p) => p.kind === 'any');
    this.exact = new Set(patterns.flatMap((p) => (p.kind === 'exact' ? [p.origin] : [])));
    this.wildcards = patterns.filter((p) => p.kind === 'subdomains');
    this.methods = [...new Set((config.methods ?? DEFAULTS.cors_methods).map((m) => m.toUpperCase()))];
    this.headers = config.headers ?? [];
    this.exposeHeaders = [...new Set([...(config.expose_headers ?? []), ...alsoExpose])];
    this.maxAgeSeconds = config.max_age !== undefined ? Math.floor(parseDuration(config.max_age) / 1000) : null;
    this.allowMethods = this.methods.join(', ');
    this.allowHeaders = this.headers.join(', ');
    this.exposed = this.exposeHeaders.join(', ');
    this.maxAge = this.maxAgeSeconds === null ? '' : String(this.maxAgeSeconds);
    this.methodSet = new Set(this.methods);
    this.headerSet = new Set(this.headers.map((h) => h.toLowerCase()));
  }

  /**
   * Whether a page from `origin` may read this route's responses: the exact text a browser sends in
   * Origin, compared with the configured origins (the hook a CSRF check for cookie-borne tokens uses too).
   */
  allowsOrigin(origin: string): boolean {
    return this.anyOrigin || this.listsOrigin(origin);
  }

  /**
   * Whether `origin` is one of the origins the config names (exactly or by a wildcard), "*" aside: the
   * origins whose pages may also send a cookie-borne token (pipeline/csrf.ts). "*" lets any page read
   * responses; it vouches for none of them.
   */
  listsOrigin(origin: string): boolean {
    if (this.exact.has(origin)) return true;
    for (const pattern of this.wildcards) if (matchesOrigin(pattern, origin)) return true;
    return false;
  }

  /** A preflight asks: may `origin` send `method` with `requestHeaders` (Access-Control-Request-Headers)? */
  preflight(origin: string, method: string, requestHeaders: string | undefined): PreflightVerdict {
    if (!this.allowsOrigin(origin)) {
      return { allowed: false, code: 'cors_origin_not_allowed', message: 'this origin is not allowed to call this route (cors.origins)' };
    }
    if (!this.methodSet.has(method)) {
      return { allowed: false, code: 'cors_method_not_allowed', message: `cross-origin ${method} is not allowed here; allowed: ${this.allowMethods} (cors.methods)` };
    }
    const refused = requestHeaders === undefined ? undefined : this.firstRefusedHeader(requestHeaders);
    if (refused !== undefined) {
      return { allowed: false, code: 'cors_header_not_allowed', message: `the request header ${refused} is not allowed here (cors.headers)` };
    }
    return ALLOWED;
  }

  /** The answer to an allowed preflight (Fetch §3.2.3), beside the request id. */
  preflightHeaders(origin: string, headers: Record<string, string>): void {
    headers['access-control-allow-origin'] = this.anyOrigin ? '*' : origin;
    if (this.credentials) headers['access-control-allow-credentials'] = 'true';
    headers['access-control-allow-methods'] = this.allowMethods;
    if (this.allowHeaders !== '') headers['access-control-allow-headers'] = this.allowHeaders;
    if (this.maxAge !== '') headers['access-control-max-age'] = this.maxAge;
    headers.vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
  }

  private firstRefusedHeader(list: string): string | undefined {
    for (const item of list.split(',')) {
      const name = item.trim().toLowerCase();
      // Named in the message only when it is a plain header name: nothing else the client wrote is echoed.
      if (name !== '' && !this.headerSet.has(name)) return /^[a-z0-9-]{1,64}$/.test(name) ? name : '(one the client named)';
    }
    return undefined;
  }
}

/** The response headers a gateway doing CORS owns: the upstream's own are dropped so the two never disagree. */
export const CORS_RESPONSE_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
] as const;
