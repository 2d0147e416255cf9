// The single source of truth for gateway.yaml: the validator, the TypeScript types and the JSON Schema
// (gateway.schema.json, for editors) all come from the definitions below.
import { z } from 'zod';
import { DURATION_PATTERN, SIZE_PATTERN } from './units.ts';

const duration = z
  // `timeout: 30` is the classic slip: telling its author to quote it would only get "30" refused next.
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'expected a duration with a unit, like 250ms, 30s, 5m or 1h') })
  .regex(DURATION_PATTERN, 'expected a duration with a unit, like 250ms, 30s, 5m or 1h');

const size = z.union([
  z.number().int().positive(),
  z.string().regex(SIZE_PATTERN, 'expected a size like 8kb, 1mb or a number of bytes'),
]);

const nonEmpty = z.string().min(1, 'must not be empty');

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'names use letters, digits, "_", "." and "-"');

const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'expected an http:// or https:// URL without query or fragment')
  // The pattern lets through hosts no URL parser takes ("http://[x"); compile and the proxy parse it.
  .refine((url) => URL.canParse(url), 'not a valid URL: check the host and port')
  // Neither the upstream pools nor fetch send them, and a log line naming the URL would show them.
  .refine((url) => !URL.canParse(url) || (new URL(url).username === '' && new URL(url).password === ''), {
    message: 'a URL here can not carry a user name or password: it would never be sent; remove "user:password@"',
    abort: true,
  });

const stringList = z.array(nonEmpty);

/** One or several of something: `x` or `[x, y]`. */
const oneOrMore = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

const claimPath = nonEmpty.describe(
  'Claim path: names separated by dots (realm_access.roles); a top-level claim named exactly so wins; a name with dots in brackets: resource_access["orders.api"].roles.',
);

/** Where a token may come from (RFC 6750 §2): the Authorization header, another header, a cookie, the query. */
const tokenSource = z
  .string()
  .regex(/^(bearer|header:.+|cookie:.+|query:.+)$/, 'expected bearer, header:<Name>, cookie:<name> or query:<name>');
const tokenFrom = z.array(tokenSource).min(1)
  .describe('Where tokens are looked for, in order: bearer, header:<Name>, cookie:<name>, query:<name>. Two different tokens in one request are refused.');

const claimValue = z.union([z.string(), z.number(), z.boolean()]);
const paramName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of a :parameter of the route\'s path');
const valueConditions = [
  claimValue.describe('The claim equals this (same type: quote a number to compare with a string claim).'),
  z.array(claimValue).min(1).describe('The claim equals one of these.'),
  z.strictObject({ contains: claimValue.describe('An array claim holds this value.') }),
  z.strictObject({ contains_any: z.array(claimValue).min(1).describe('An array claim holds one of these.') }),
  z.strictObject({ contains_all: z.array(claimValue).min(1).describe('An array claim holds every one of these.') }),
  z.strictObject({ present: z.boolean().describe('true: the claim exists (not null); false: it does not.') }),
] as const;
const providerCondition = z.union(valueConditions, {
  error: 'a condition is a value, a list of values, or one of {contains: x}, {contains_any: [..]}, {contains_all: [..]}, {present: true|false}',
});
const routeCondition = z.union(
  [
    ...valueConditions,
    z.strictObject({ param: paramName.describe('The claim (a string) equals this path parameter, decoded, exactly.') }),
    z.strictObject({ contains_param: paramName.describe('An array claim holds this path parameter, decoded, exactly.') }),
  ],
  {
    error: 'a condition is a value, a list of values, or one of {param: name}, {contains: x}, {contains_any: [..]}, {contains_all: [..]}, {contains_param: name}, {present: true|false}',
  },
);

const identityHeaders = z.record(nonEmpty, oneOrMore(claimPath))
  .describe('Header -> claim path (or a list: the first present wins); "roles" and "scopes" are the normalized lists.');

/** Every JWS algorithm jose can verify; "none" is deliberately absent (RFC 8725 §3.1). */
export const ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const DEFAULTS = {
  host: '0.0.0.0',
  admin_host: '127.0.0.1',
  port: 8080,
  admin_port: 9901,
  timeout: '30s',
  shutdown_timeout: '10s',
  headers_timeout: '10s',
  request_timeout: '5m',
  keep_alive_timeout: '5s',
  max_header_size: '64kb',
  max_headers: 100,
  max_token_size: '16kb',
  token_cache_size: 10_000,
  workers: 1,
  clock_tolerance: '30s',
  roles_claim: 'roles',
  scopes_claim: ['scope', 'scp'],
  token_from: ['bearer'],
  secret_encoding: 'utf8',
  jwks_refresh: '10m',
  jwks_cooldown: '30s',
  auth: 'required',
  authorization: 'keep',
  log_level: 'info',
  max_connections: 1024,
  balance: 'round_robin',
  connect_timeout: '5s',
  queue_timeout: '5s',
  health_interval: '5s',
  health_timeout: '1s',
  healthy_threshold: 2,
  unhealthy_threshold: 3,
  consecutive_failures: 5,
  ejection_time: '30s',
  retry_attempts: 0,
  retry_on: ['connect_failure', 'reset', '502', '503', '504'],
  retry_budget: '20%',
  rate_limit_store: 'memory',
  rate_limit_failure: 'open',
  rate_limit_timeout: '1s',
  cors_methods: ['GET', 'HEAD', 'POST'],
} as const;

const server = z
  .strictObject({
    host: nonEmpty.optional().describe(`Address to listen on (default ${DEFAULTS.host}).`),
    port: z.number().int().min(0).max(65535).optional().describe(`Gateway port (default ${DEFAULTS.port}; 0 picks a free one).`),
    admin_port: z.number().int().min(0).max(65535).optional()
      .describe(`Port of /healthz, /readyz and /metrics (default ${DEFAULTS.admin_port}).`),
    admin_host: nonEmpty.optional()
      .describe(`Address of the admin listener (default ${DEFAULTS.admin_host}); 0.0.0.0 lets a probe or scraper on another host reach it.`),
    trust_proxy: z.union([z.boolean(), z.array(nonEmpty)]).optional()
      .describe('Whose X-Forwarded-* headers to keep: true (everyone), false (nobody, default) or a list of CIDRs.'),
    timeout: duration.optional().describe(`Default upstream timeout (default ${DEFAULTS.timeout}).`),
    shutdown_timeout: duration.optional()
      .describe(`How long SIGTERM waits for in-flight requests (default ${DEFAULTS.shutdown_timeout}).`),
    headers_timeout: duration.optional()
      .describe(`A client must send its request headers within this (default ${DEFAULTS.headers_timeout}).`),
    request_timeout: duration.optional()
      .describe(`A client must send its whole request within this (default ${DEFAULTS.request_timeout}).`),
    keep_alive_timeout: duration.optional()
      .describe(`Idle client connections are closed after this (default ${DEFAULTS.keep_alive_timeout}).`),
    max_header_size: size.optional()
      .describe(`Larger request headers get 431 (default ${DEFAULTS.max_header_size}); keep it above max_token_size.`),
    max_headers: z.number().int().min(1).max(10_000).optional()
      .describe(`Requests with more header lines get 431 headers_too_many (default ${DEFAULTS.max_headers}).`),
    max_token_size: size.optional().describe(`Larger tokens get 401 token_too_large (default ${DEFAULTS.max_token_size}).`),
    token_cache_size: z.number().int().min(0).optional()
      .describe(`Verified tokens remembered (default ${DEFAULTS.token_cache_size}; 0 disables the cache).`),
    case_insensitive_paths: z.boolean().optional()
      .describe('Match routes ignoring letter case, for upstreams that ignore case (default false).'),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).optional()
      .describe('Processes serving the port: a number, or auto for one per core (default 1).'),
    access_log: z.boolean().optional().describe('One JSON line per request (default true).'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()
      .describe(`Log level (default ${DEFAULTS.log_level}).`),
  })
  .describe('Listener, timeouts and limits.');

const provider = z
  .strictObject({
    name: name.describe('Name used by routes (providers: [...]) and the token command.'),
    issuer: nonEmpty.optional()
      .describe('When set, the token\'s iss must equal it; tokens are routed to the provider by iss. One {claim} placeholder makes it a multi-tenant template: https://login.microsoftonline.com/{tid}/v2.0.'),
    tenants: z.array(nonEmpty).min(1).optional()
      .describe('With an issuer template: the only values its placeholder may take (tenant ids).'),
    audience: z.union([nonEmpty, z.array(nonEmpty).min(1)]).optional()
      .describe('When set, the token\'s aud must contain one of these.'),
    secret: z.union([nonEmpty, z.array(z.union([nonEmpty, z.strictObject({ value: nonEmpty.describe('The secret.'), kid: nonEmpty.optional().describe('Tokens whose kid is this are verified with this secret only.') })])).min(1)]).optional()
      .describe('HMAC secret (HS256/384/512), or a list (current and next: any verifies; {value, kid} is tried for tokens with that kid). Use ${VAR} rather than writing it here.'),
    secret_encoding: z.enum(['utf8', 'base64', 'base64url']).optional()
      .describe(`How the secret's text is turned into key bytes (default ${DEFAULTS.secret_encoding}); base64 for Spring/JJWT and older Auth0 secrets.`),
    public_key_file: z.union([nonEmpty, z.array(z.union([nonEmpty, z.strictObject({ file: nonEmpty.describe('PEM public key or certificate.'), kid: nonEmpty.optional().describe('Tokens whose kid is this are verified with this key only.') })])).min(1)]).optional()
      .describe('PEM public key or certificate, relative to gateway.yaml; or a list (any verifies; {file, kid} is tried for tokens with that kid).'),
    jwks_file: nonEmpty.optional().describe('A local JWKS file, relative to gateway.yaml; watched and reloaded when it changes.'),
    signing_key_file: nonEmpty.optional()
      .describe('PEM private key the token command signs with; the gateway verifies with its public half.'),
    jwks_uri: httpUrl.optional().describe('JWKS URL; keys are cached and refreshed.'),
    discovery: z.union([z.boolean(), httpUrl]).optional()
      .describe('true: read jwks_uri from {issuer}/.well-known/openid-configuration; a URL: from that discovery document instead (needed with an issuer template).'),
    roles_claim: oneOrMore(claimPath).optional()
      .describe(`Claim path of the roles, or a list whose roles are joined (default "${DEFAULTS.roles_claim}"): an array, a space/comma separated string, or an object whose keys are roles.`),
    scopes_claim: oneOrMore(claimPath).optional()
      .describe(`Claim paths of the scopes (default [${DEFAULTS.scopes_claim.join(', ')}]); a list replaces the default. Space-separated text or an array.`),
    require_claims: z.record(claimPath, providerCondition).optional()
      .describe('Claim conditions every token of this provider must meet (401 token_claims otherwise); ANDed.'),
    token_from: tokenFrom.optional(),
    forward: z.strictObject({ headers: identityHeaders.optional() }).optional()
      .describe('Identity headers for this provider\'s tokens; they override forward.headers entries of the same name.'),
    algorithms: z.array(z.enum(ALGORITHMS, { message: '"none" is never allowed' })).min(1).optional()
      .describe('Accepted algorithms; the default follows the key type.'),
    clock_tolerance: duration.optional().describe(`Leeway for exp and nbf (default ${DEFAULTS.clock_tolerance}).`),
    typ: nonEmpty.optional().describe('Required JWT typ header, e.g. at+jwt (RFC 9068).'),
    jwks_refresh: duration.optional().describe(`How often JWKS keys are refetched (default ${DEFAULTS.jwks_refresh}).`),
    jwks_cooldown: duration.optional()
      .describe(`Least time between refetches caused by unknown kids (default ${DEFAULTS.jwks_cooldown}).`),
  })
  .describe('A token issuer the gateway trusts.');

const forward = z
  .strictObject({
    headers: identityHeaders.optional(),
    authorization: z.enum(['keep', 'strip']).optional()
      .describe(`Whether the token reaches upstreams (default ${DEFAULTS.authorization}): strip removes Authorization and every header or cookie named in a token_from.`),
  })
  .describe('What upstreams receive about the caller.');

/** What a retry may be for: a connection never made, one broken before the answer, or these statuses. */
export const RETRY_CONDITIONS = ['connect_failure', 'reset', '502', '503', '504'] as const;

const retryCondition = z
  .union(
    [z.enum(RETRY_CONDITIONS), z.union([z.literal(502), z.literal(503), z.literal(504)]).transform((n) => String(n) as '502' | '503' | '504')],
    { error: 'expected connect_failure, reset, 502, 503 or 504' },
  )
  .describe('connect_failure, reset, 502, 503 or 504.');

const healthCheck = z
  .strictObject({
    path: z.string().regex(/^\/[^\s#]*$/, 'expected a path starting with "/"').describe('Path asked with GET; a 2xx or 3xx answer is healthy.'),
    interval: duration.optional().describe(`Time between checks (default ${DEFAULTS.health_interval}; 100ms at least).`),
    timeout: duration.optional().describe(`A check that takes longer fails (default ${DEFAULTS.health_timeout}).`),
    healthy_threshold: z.number().int().min(1).max(100).optional()
      .describe(`Passed checks in a row that bring a target back (default ${DEFAULTS.healthy_threshold}).`),
    unhealthy_threshold: z.number().int().min(1).max(100).optional()
      .describe(`Failed checks in a row that take a target out (default ${DEFAULTS.unhealthy_threshold}).`),
  })
  .describe('Active health checks (off unless set).');

const outlierDetection = z
  .strictObject({
    consecutive_failures: z.number().int().min(1).max(1000).optional()
      .describe(`Connect errors, resets and 502/503/504 in a row that eject a target (default ${DEFAULTS.consecutive_failures}).`),
    ejection_time: duration.optional()
      .describe(`How long an ejected target gets no requests (default ${DEFAULTS.ejection_time}); doubled on each repeated ejection, up to 5m.`),
  })
  .describe('Passive health checks from real traffic (off unless set).');

const retries = z
  .strictObject({
    attempts: z.number().int().min(0).max(10).optional()
      .describe(`Extra tries after the first (default ${DEFAULTS.retry_attempts}).`),
    on: z.array(retryCondition).min(1).optional()
      .describe('What is retried (default all of connect_failure, reset, 502, 503, 504). Only a connect failure is retried for POST and PATCH.'),
    per_try_timeout: duration.optional().describe('Longest wait for each try\'s response (default: the upstream timeout).'),
    budget: z.string().regex(/^(100|[1-9]?[0-9])%$/, 'expected a percentage like 20%').optional()
      .describe(`Retries are at most this share of the upstream's requests over a sliding minute (default ${DEFAULTS.retry_budget}).`),
  })
  .describe('Retries on another target.');

/** sub | ip | claim:<path> | header:<Name>. */
export const HASH_KEY_PATTERN = /^(sub|ip|claim:\S+|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/;

const upstreamObject = z.strictObject({
  targets: z.array(httpUrl).min(1).describe('Upstream URLs, shared by the balance policy.'),
  balance: z.enum(['round_robin', 'least_request', 'hash']).optional()
    .describe(`How a target is chosen: round_robin (default), least_request, or hash (consistent hashing on hash_key).`),
  hash_key: z.string().regex(HASH_KEY_PATTERN, 'expected sub, ip, claim:<path> or header:<Name>').optional()
    .describe('With balance: hash, what keeps a caller on one target: sub, ip, claim:<path> or header:<Name>.'),
  connect_timeout: duration.optional()
    .describe(`A connection not made in this time is a 502 upstream_unavailable (default ${DEFAULTS.connect_timeout}).`),
  queue_timeout: duration.optional()
    .describe(`Longest wait for a free connection; 503 upstream_overloaded after it (default ${DEFAULTS.queue_timeout}).`),
  health_check: healthCheck.optional(),
  outlier_detection: outlierDetection.optional(),
  retries: retries.optional(),
  timeout: duration.optional().describe('Upstream timeout (default: server.timeout).'),
  preserve_host: z.boolean().optional()
    .describe('Forward the client\'s Host header (default true); false sends the target\'s host.'),
  max_connections: z.number().int().min(1).max(65536).optional()
    .describe(`Connections to each target at once (default ${DEFAULTS.max_connections}); further requests wait for a free one.`),
});
const upstream = z.union([httpUrl, upstreamObject]).describe('One URL, or targets with options.');

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;

const method = z.string().regex(/^[A-Za-z]+$/, 'expected an HTTP method like GET');
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name like X-Request-Id');

const rateLimitPolicy = z
  .strictObject({
    requests: z.number().int().min(1, 'at least 1 request per window').describe('Requests allowed per window: the rate a token bucket refills at (all of them may arrive at once after a quiet period).'),
    per: duration.describe('The window, in whole seconds: 1s, 1m, 1h.'),
    burst: z.number().int().min(0).optional()
      .describe('Extra requests on top: the bucket holds requests + burst, and is full again after (requests + burst) / requests windows of quiet (default 0).'),
    key: z
      .string()
      .regex(/^(sub|ip|route|claim:\S+|header:\S+)$/, 'expected sub, ip, route, claim:<path> or header:<Name>')
      .describe('What is counted: sub, ip (as trust_proxy defines it), route, claim:<path> or header:<Name>.'),
  })
  .describe('A named budget: one count per key value, shared by every route that names the policy.');

const cors = z
  .strictObject({
    origins: z.array(nonEmpty).min(1)
      .describe('Allowed origins, compared exactly: https://app.example.com, https://*.example.com (one or more subdomain labels), "*", or "null".'),
    methods: z.array(method).min(1).optional().describe(`Methods a preflight may ask for (default ${DEFAULTS.cors_methods.join(', ')}).`),
    headers: z.array(headerName).optional().describe('Request headers a preflight may ask for, e.g. Authorization, Content-Type.'),
    expose_headers: z.array(headerName).optional().describe('Response headers the browser lets the page read.'),
    credentials: z.boolean().optional().describe('Allow cookies and Authorization from the browser (default false); never with origin "*".'),
    max_age: duration.optional().describe('How long browsers may cache a preflight answer (default: not said; browsers keep it 5 s).'),
  })
  .describe('CORS: which browser origins may call the gateway. Preflights are answered before authentication.');

const route = z
  .strictObject({
    name: name.describe('Unique route name; it appears in logs, metrics and explain.'),
    path: nonEmpty.optional().describe('Exact path; ":name" matches one segment.'),
    prefix: nonEmpty.optional().describe('Path prefix, segment-aware: /api matches /api and /api/x, never /apix.'),
    methods: z.array(method).min(1).optional()
      .describe('Methods matched (default all); HEAD goes where GET goes.'),
    host: nonEmpty.optional().describe('Host to match; "*.example.com" allowed.'),
    upstream: name.describe('Name of an entry under upstreams.'),
    auth: z.enum(['public', 'optional', 'required']).optional()
      .describe(`public: no token read; optional: a token is verified when present; required (default).`),
    roles: stringList.min(1).optional().describe('Any one of these roles.'),
    all_roles: stringList.min(1).optional().describe('Every one of these roles.'),
    scopes: stringList.min(1).optional().describe('Every one of these scopes (from scope or scp).'),
    providers: z.array(name).min(1).optional().describe('Accept only these providers\' tokens.'),
    claims: z.record(claimPath, routeCondition).optional()
      .describe('Claim conditions for this route, ANDed (403 claim_mismatch otherwise): a value, a list (one of), {param}, {contains}...'),
    token_from: tokenFrom.optional(),
    strip_prefix: z.boolean().optional().describe('Remove the prefix before forwarding.'),
    timeout: duration.optional().describe('Upstream timeout for this route (default: the upstream\'s).'),
    max_body: size.optional().describe('Larger request bodies get 413.'),
    rate_limit: z.union([name, z.array(name).min(1)]).optional()
      .describe('A policy under rate_limits, or a list of them (every one must allow the request).'),
    cors: z.union([cors, z.literal(false)]).optional()
      .describe('This route\'s CORS, replacing the global cors block whole; false turns CORS off here.'),
  })
  .describe('First match in file order wins.');

export const gatewaySchema = z
  .strictObject({
    server: server.optional(),
    providers: z.array(provider).optional(),
    forward: forward.optional(),
    upstreams: z.record(name, upstream),
    routes: z.array(route).min(1, 'declare at least one route'),
    rate_limits: z.record(name, rateLimitPolicy).optional().describe('Named rate limit policies, used by routes (rate_limit: NAME).'),
    rate_limit_store: z
      .string()
      .regex(/^(memory|rediss?:\/\/\S+)$/, 'expected memory or a Redis URL like redis://127.0.0.1:6379/0')
      .optional()
      .describe(`Where counts are kept: memory (default; shared by the workers of one instance) or redis://host:6379/0 (shared by every instance).`),
    rate_limit_failure: z.enum(['open', 'closed']).optional()
      .describe(`When the store can not be reached: open lets requests pass (default), closed refuses them with 503.`),
    rate_limit_timeout: duration.optional()
      .describe(`Longest wait for the store before rate_limit_failure applies (default ${DEFAULTS.rate_limit_timeout}).`),
    cors: cors.optional(),
  })
  .describe('Portcullis gateway configuration');

export type GatewayConfig = z.infer<typeof gatewaySchema>;
export type ServerConfig = z.infer<typeof server>;
export type ProviderConfig = z.infer<typeof provider>;
export type RouteConfig = z.infer<typeof route>;
export type UpstreamConfig = z.infer<typeof upstream>;
export type UpstreamObject = z.infer<typeof upstreamObject>;
export type RateLimitPolicyConfig = z.infer<typeof rateLimitPolicy>;
export type CorsConfig = z.infer<typeof cors>;

/** The JSON Schema committed as gateway.schema.json. */
export function gatewayJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(gatewaySchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/portcullis/portcullis/gateway.schema.json',
    title: 'gateway.yaml',
  };
}
