// Compilation: a loaded config becomes the runtime objects the request path uses (route table, providers
// with their keys, upstream pools with their agents, the header policy, CORS and rate limits). Nothing is
// re-parsed per request.
import { claimPath } from '../auth/claim-path.ts';
import { compileCondition, type ConditionSpec } from '../auth/conditions.ts';
import { BEARER_SOURCE, parseTokenSource, type TokenSource } from '../auth/extract.ts';
import type { JwksEvents } from '../auth/jwks.ts';
import type { KeySource } from '../auth/keys.ts';
import { ProviderDirectory, type Provider } from '../auth/provider.ts';
import { TokenCache } from '../auth/token-cache.ts';
import type { Verifier } from '../auth/verify.ts';
import { spoofableNames, type ForwardPolicy } from '../proxy/headers.ts';
import { trustPolicy } from '../proxy/trust.ts';
import type { Upstream } from '../proxy/upstream.ts';
import { compileHost } from '../routing/host.ts';
import { compilePattern } from '../routing/pattern.ts';
import type { Route } from '../routing/route.ts';
import { Router } from '../routing/router.ts';
import { compileHeaders, compileProvider, jwksIdentity } from './compile-provider.ts';
import { compileUpstreams, type UpstreamEvents } from './compile-upstreams.ts';
import { compileTraffic, type CompiledTraffic, type TrafficEvents } from '../traffic/compile.ts';
import type { CorsPolicy } from '../traffic/cors.ts';
import type { LimitStore } from '../traffic/limit-store.ts';
import type { RateLimiting } from '../traffic/rate-limit.ts';
import type { LoadedConfig } from './load.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig, type RouteConfig } from './schema.ts';
import { resolveSettings, type Settings } from './settings.ts';
import { parseDuration, parseSize } from './units.ts';
import { routeMethods } from './warnings.ts';

export interface CompiledConfig {
  readonly file: string;
  readonly settings: Settings;
  readonly router: Router;
  readonly verifier: Verifier;
  readonly forward: ForwardPolicy;
  /** Query parameters that carry tokens anywhere in the config: never forwarded upstream. */
  readonly queryTokenNames: ReadonlySet<string>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** The global cors block, for responses no route answers for (404, 405); routes carry their own. */
  readonly cors: CorsPolicy | null;
  readonly rateLimiting: RateLimiting;
  readonly warnings: readonly ConfigProblem[];
  /** Providers whose secret is the ${VAR:-default} fallback written in the file. */
  readonly defaultSecrets: readonly string[];
  /**
   * Replaced, with requests still in flight on it: its active health checks stop now (the new config's
   * check the same targets), so that a config kept by a long stream checks nothing twice.
   */
  retire(): void;
  /** Close what only this config uses (upstream agents, key sources not carried over). */
  close(next?: CompiledConfig): void;
}

export type { UpstreamEvents };

export interface CompileOptions {
  readonly jwksEvents?: JwksEvents;
  readonly upstreamEvents?: UpstreamEvents;
  /**
   * The config being replaced: its JWKS key sources are reused where unchanged, keys and all, and so are
   * its rate limit store and what its upstreams' health checks found.
   */
  readonly previous?: CompiledConfig;
  /** Where `rate_limit_store: memory` counts (a cluster worker's is the primary). */
  readonly memoryLimitStore?: LimitStore;
  readonly trafficEvents?: TrafficEvents;
}

export async function compileConfig(loaded: LoadedConfig, options: CompileOptions = {}): Promise<CompiledConfig> {
  const { config } = loaded;
  const settings = resolveSettings(config.server);
  const reusable = new Map((options.previous?.verifier.providers.all ?? []).map((p) => [jwksIdentity(p.keys), p.keys]));
  const globalHeaders = compileHeaders(config.forward?.headers);
  const context = { loaded, reusable: reusable as ReadonlyMap<string, KeySource>, events: options.jwksEvents, globalHeaders };
  const providers = await Promise.all((config.providers ?? []).map((p) => compileProvider(p, context)));
  const directory = new ProviderDirectory(providers);
  const upstreams = compileUpstreams(config, settings, options.previous?.upstreams, options.upstreamEvents);
  const traffic = compileTraffic(config, {
    ...(options.previous ? { previous: options.previous.rateLimiting } : {}),
    ...(options.memoryLimitStore ? { memoryStore: options.memoryLimitStore } : {}),
    ...(options.trafficEvents ? { events: options.trafficEvents } : {}),
  });
  const routes = config.routes.map((route, index) => compileRoute(route, index, config, providers, upstreams.get(route.upstream)!, settings, traffic));

  const identityHeaderNames = [...new Set(providers.flatMap((p) => p.identityHeaders.map((h) => h.name)).concat(globalHeaders.map((h) => h.name)))];
  const strip = (config.forward?.authorization ?? DEFAULTS.authorization) === 'strip';
  const sources = allTokenSources(config);
  const verifier: Verifier = { providers: directory, cache: new TokenCache(settings.tokenCacheSize) };
  const compiled: CompiledConfig = {
    file: loaded.file,
    settings,
    router: new Router(routes, { caseInsensitive: settings.caseInsensitivePaths }),
    verifier,
    forward: {
      identityHeaders: identityHeaderNames,
      spoofable: spoofableNames(identityHeaderNames),
      stripAuthorization: strip,
      tokenHeaders: strip ? [...new Set(sources.filter((s) => s.kind === 'header').map((s) => (s as { name: string }).name))] : [],
      tokenCookies: new Set(strip ? sources.filter((s) => s.kind === 'cookie').map((s) => (s as { name: string }).name) : []),
      trust: trustPolicy(settings.trustProxy),
    },
    queryTokenNames: new Set(sources.filter((s) => s.kind === 'query').map((s) => (s as { name: string }).name)),
    upstreams,
    cors: traffic.cors,
    rateLimiting: traffic.rateLimiting,
    warnings: loaded.warnings,
    defaultSecrets: (config.providers ?? [])
      .filter((_, i) => loaded.defaulted.has(`providers.${i}.secret`) || [...loaded.defaulted.keys()].some((k) => k.startsWith(`providers.${i}.secret.`)))
      .map((p) => p.name),
    retire() {
      for (const upstream of upstreams.values()) upstream.stopChecks();
    },
    close(next) {
      for (const upstream of upstreams.values()) upstream.close();
      const kept = new Set(next?.verifier.providers.all.map((p) => p.keys));
      for (const p of providers) if (!kept.has(p.keys)) p.keys.stop();
      verifier.cache.clear();
      const store = traffic.rateLimiting.store;
      if (next?.rateLimiting.store !== store && store !== options.memoryLimitStore) store.close();
    },
  };
  return compiled;
}

function compileRoute(route: RouteConfig, index: number, config: GatewayConfig, providers: readonly Provider[], upstream: Upstream, settings: Settings, traffic: CompiledTraffic): Route {
  const kind = route.path !== undefined ? 'exact' : 'prefix';
  const source = (route.path ?? route.prefix)!;
  const accepted = route.providers ? providers.filter((p) => route.providers!.includes(p.name)) : providers;
  const tokenSources = routeTokenSources(route, config, accepted);
  const parameters = source.slice(1).split('/');
  const segmentOf = (name: string) => {
    const i = parameters.indexOf(`:${name}`);
    return i === -1 ? undefined : i;
  };
  const claims = Object.entries(route.claims ?? {}).map(([claim, spec]) => compileCondition(claimPath(claim), spec as ConditionSpec, segmentOf));
  return {
    name: route.name,
    index,
    pattern: compilePattern(source, kind, settings.caseInsensitivePaths),
    methods: routeMethods(route.methods),
    host: route.host !== undefined ? compileHost(route.host) : null,
    auth: route.auth ?? DEFAULTS.auth,
    tokenSources,
    checkProviderSource: route.token_from === undefined && accepted.some((p) => tokenSources.some((s) => !p.tokenSources.has(s.key))),
    requirement: {
      anyRoles: route.roles ?? [],
      allRoles: route.all_roles ?? [],
      scopes: route.scopes ?? [],
      providers: route.providers ? new Set(route.providers) : null,
      claims,
      usesPathParameters: claims.some((c) => c.test.kind === 'param' || c.test.kind === 'contains_param'),
    },
    upstream,
    stripPrefix: route.strip_prefix ?? false,
    timeoutMs: route.timeout !== undefined ? parseDuration(route.timeout) : upstream.timeoutMs,
    maxBody: route.max_body !== undefined ? parseSize(route.max_body) : null,
    cors: traffic.routeCors(route),
    rateLimit: traffic.routeRateLimit(route),
  };
}

/** The route's token_from; else every source its providers read, in provider order. */
function routeTokenSources(route: RouteConfig, config: GatewayConfig, accepted: readonly Provider[]): readonly TokenSource[] {
  if (route.token_from !== undefined) return route.token_from.map(parseTokenSource);
  const names = route.providers ?? (config.providers ?? []).map((p) => p.name);
  const texts = (config.providers ?? []).filter((p) => names.includes(p.name)).flatMap((p) => p.token_from ?? DEFAULTS.token_from);
  const unique = [...new Set(texts)].map(parseTokenSource);
  return accepted.length === 0 || unique.length === 0 ? [BEARER_SOURCE] : unique;
}

/** Every token source named anywhere: their headers, cookies and query parameters are credentials. */
function allTokenSources(config: GatewayConfig): TokenSource[] {
  const texts = [...(config.providers ?? []).flatMap((p) => p.token_from ?? []), ...config.routes.flatMap((r) => r.token_from ?? [])];
  return [...new Set(texts)].map(parseTokenSource);
}

