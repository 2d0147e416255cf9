// The headers traffic control adds to a response, whoever made it: a forwarded upstream response, or an
// error the gateway answers itself (401, 403, 429, 502...), so that a browser app can read its errors and
// every client sees its limits. One function for both, fed by the request's traffic state.
import { CORS_RESPONSE_HEADERS, type CorsPolicy } from './cors.ts';
import { rateLimitField, type LimitReport } from './rate-limit.ts';

/** What admission (admit.ts) noted about a request for its response. The server's request context holds it. */
export interface TrafficState {
  /** The Origin header the client sent. */
  origin: string | undefined;
  /** The CORS in force for the response (the route's, else the global one), or null for none. */
  cors: CorsPolicy | null;
  /** The rate limits the request was counted against, or null. */
  limits: LimitReport | null;
}

/** A response's header map: node's IncomingHttpHeaders of an upstream response, or an error reply's. */
export type MutableHeaders = Record<string, string | string[] | undefined>;

export function applyTrafficHeaders(headers: MutableHeaders, state: TrafficState): void {
  if (state.cors !== null) applyCors(headers, state.cors, state.origin);
  const limits = state.limits;
  if (limits !== null) {
    headers['ratelimit-policy'] = limits.policyHeader;
    if (limits.counts.length > 0) headers.ratelimit = rateLimitField(limits.counts);
  }
}

/**
 * The upstream's own CORS headers are dropped, so that the
 * gateway's answer and the upstream's never disagree. The allowed origin is echoed only when it is on the
 * list, never reflected; "*" only for origins: ["*"] without credentials (Fetch §3.2.5 forbids it with
 * them). Vary: Origin tells caches that another origin may get another answer.
 */
function applyCors(headers: MutableHeaders, cors: CorsPolicy, origin: string | undefined): void {
  for (const name of CORS_RESPONSE_HEADERS) if (headers[name] !== undefined) delete headers[name];
  if (cors.anyOrigin) {
    headers['access-control-allow-origin'] = '*';
    if (cors.exposed !== '') headers['access-control-expose-headers'] = cors.exposed;
    return;
  }
  appendVary(headers, 'Origin');
  if (origin === undefined || !cors.allowsOrigin(origin)) return;
  headers['access-control-allow-origin'] = origin;
  if (cors.credentials) headers['access-control-allow-credentials'] = 'true';
  if (cors.exposed !== '') headers['access-control-expose-headers'] = cors.exposed;
}

const NAMES_ORIGIN = /(^|,)\s*(origin|\*)\s*(,|$)/i;

function appendVary(headers: MutableHeaders, name: string): void {
  const vary = headers.vary;
  if (vary === undefined) {
    headers.vary = name;
    return;
  }
  const text = Array.isArray(vary) ? vary.join(', ') : vary;
  if (!NAMES_ORIGIN.test(text)) headers.vary = `${text}, ${name}`;
}
