// rate_limits, rate_limit_store, the routes' rate_limit and every cors block: rules beyond the schema.
import { LONGEST_WINDOW_SECONDS } from '../traffic/limit-store.ts';
import { parseOriginPattern } from '../traffic/origin.ts';
import { checkClaimPath, reporter, type Report } from './check-claims.ts';
import type { ConfigPath, ConfigProblem } from './problems.ts';
import type { CorsConfig, GatewayConfig } from './schema.ts';
import type { ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';
import { parseDuration } from './units.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function checkTraffic(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = reporter(source, problems);
  checkPolicies(config, at);
  checkStore(config, at);
  if (config.cors !== undefined) checkCors(config.cors, ['cors'], at);
  config.routes.forEach((route, i) => {
    if (route.cors !== undefined && route.cors !== false) checkCors(route.cors, ['routes', i, 'cors'], at);
  });
  return problems;
}

/** Valid, but probably not what was meant: found only in a config without errors, like the other warnings. */
export function trafficWarnings(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = reporter(source, problems);
  const policies = config.rate_limits ?? {};
  const used = new Set<string>();
  config.routes.forEach((route, i) => {
    if (route.rate_limit === undefined) return;
    [route.rate_limit].flat().forEach((name, j) => {
      used.add(name);
      const key = policies[name]?.key;
      if (route.auth === 'public' && key !== undefined && (key === 'sub' || key.startsWith('claim:'))) {
        const path: ConfigPath = Array.isArray(route.rate_limit) ? ['routes', i, 'rate_limit', j] : ['routes', i, 'rate_limit'];
        at(path, 'rate_limit_without_token', `a public route reads no token, so every request counts under policy "${name}"'s one shared "missing" key; key it by ip, or set auth: optional`, 'warning');
      }
    });
  });
  for (const name of Object.keys(policies)) {
    if (!used.has(name)) at(['rate_limits', name], 'unused_rate_limit', `rate limit policy "${name}" is not used by any route`, 'warning', true);
  }
  if (config.server?.trust_proxy === true && Object.values(policies).some((p) => p.key === 'ip')) {
    at(['server', 'trust_proxy'], 'ip_key_spoofable', 'with trust_proxy: true any client chooses its own ip key through X-Forwarded-For; list your proxies\' addresses instead', 'warning');
  }
  const origins = [config.cors, ...config.routes.map((r) => r.cors)];
  origins.forEach((cors, i) => {
    if (cors === undefined || cors === false) return;
    const base: ConfigPath = i === 0 ? ['cors'] : ['routes', i - 1, 'cors'];
    cors.origins.forEach((origin, j) => {
      if (origin === 'null') at([...base, 'origins', j], 'cors_null_origin', '"null" is the origin of sandboxed iframes and local files: any site can produce it', 'warning');
    });
  });
  return problems;
}

function checkPolicies(config: GatewayConfig, at: Report): void {
  const policies = config.rate_limits ?? {};
  const names = Object.keys(policies);
  for (const [name, policy] of Object.entries(policies)) {
    const ms = parseDuration(policy.per);
    if (ms < 1000 || ms % 1000 !== 0) {
      at(['rate_limits', name, 'per'], 'bad_window', 'a rate limit window is a whole number of seconds (1s, 30s, 1m, 1h): counts expire by the second');
    } else if (ms > LONGEST_WINDOW_SECONDS * 1000) {
      at(['rate_limits', name, 'per'], 'bad_window', `a rate limit window is at most ${LONGEST_WINDOW_SECONDS / 3600}h (24 days)`);
    }
    if (policy.key.startsWith('claim:')) checkClaimPath(policy.key.slice('claim:'.length), ['rate_limits', name, 'key'], at);
    if (policy.key.startsWith('header:') && !HEADER_NAME.test(policy.key.slice('header:'.length))) {
      at(['rate_limits', name, 'key'], 'bad_header_name', 'expected header:<Name>, like header:X-Api-Key');
    }
  }
  config.routes.forEach((route, i) => {
    if (route.rate_limit === undefined) return;
    [route.rate_limit].flat().forEach((name, j) => {
      if (policies[name] !== undefined) return;
      const path: ConfigPath = Array.isArray(route.rate_limit) ? ['routes', i, 'rate_limit', j] : ['routes', i, 'rate_limit'];
      at(path, 'unknown_rate_limit', `unknown rate limit policy "${name}"${didYouMean(name, names)}; define it under rate_limits`);
    });
  });
}

function checkStore(config: GatewayConfig, at: Report): void {
  const store = config.rate_limit_store;
  if (store !== undefined && store !== 'memory') {
    // The URL may hold a password: messages never repeat it.
    const url = URL.canParse(store) ? new URL(store) : undefined;
    if (url === undefined || url.hostname === '' || !/^\/?\d*$/.test(url.pathname) || url.search !== '' || url.hash !== '') {
      at(['rate_limit_store'], 'bad_rate_limit_store', 'expected redis://[user:password@]host[:port][/db] (rediss:// for TLS), with a database number as its only path');
    }
  }
  if (config.rate_limit_timeout !== undefined && parseDuration(config.rate_limit_timeout) === 0) {
    at(['rate_limit_timeout'], 'bad_timeout', 'rate_limit_timeout must be longer than 0ms');
  }
}

function checkCors(cors: CorsConfig, base: ConfigPath, at: Report): void {
  cors.origins.forEach((origin, i) => {
    const parsed = parseOriginPattern(origin);
    if (!parsed.ok) at([...base, 'origins', i], 'bad_origin', parsed.message);
    else if (origin === '*' && cors.credentials === true) {
      at([...base, 'origins', i], 'cors_wildcard_credentials', 'browsers refuse "*" together with credentials, and allowing every origin to send cookies would let any site act as the user; list the origins');
    }
  });
  for (const key of ['headers', 'expose_headers'] as const) {
    cors[key]?.forEach((name, i) => {
      if (name === '*') at([...base, key, i], 'cors_wildcard_header', `list the header names: "*" is not a name, and browsers ignore it with credentials`);
    });
  }
}
