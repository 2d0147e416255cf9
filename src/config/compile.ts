// Compilation: a loaded config becomes the runtime objects the request path uses (route table, providers
// with their keys, upstream pools with their agents, the header policy, CORS and rate limits). Nothing is
// re-parsed per request.
import { createPublicKey } from 'node:crypto';
import type { JWTVerifyOptions } from 'jose';
import { parseClaimPath } from '../auth/claims.ts';
import { JwksKeySource, type JwksEvents } from '../auth/jwks.ts';
import { publicKeySource, secretKeySource, type KeySource } from '../auth/keys.ts';
import { ProviderDirectory, type Provider } from '../auth/provider.ts';
import { TokenCache } from '../auth/token-cache.ts';
import type { Verifier } from '../auth/verify.ts';
import { spoofableNames, type ForwardPolicy } from '../proxy/headers.ts';
import { trustPolicy } from '../proxy/trust.ts';
import { createTarget, UpstreamPool } from '../proxy/upstream.ts';
import { compileHost } from '../routing/host.ts';
import { compilePattern } from '../routing/pattern.ts';
import type { Route } from '../routing/route.ts';
import { Router } from '../routing/router.ts';
import { compileTraffic, type TrafficEvents } from '../traffic/compile.ts';
import type { CorsPolicy } from '../traffic/cors.ts';
import type { LimitStore } from '../traffic/limit-store.ts';
import type { RateLimiting } from '../traffic/rate-limit.ts';
import type { LoadedConfig } from './load.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig, type ProviderConfig } from './schema.ts';
import { resolveSettings, type Settings } from './settings.ts';
import { parseDuration, parseSize } from './units.ts';
import { routeMethods } from './warnings.ts';
import { supportedAlgorithms } from './check-providers.ts';

export interface CompiledConfig {
  readonly file: string;
  readonly settings: Settings;
  readonly router: Router;
  readonly verifier: Verifier;
  readonly forward: ForwardPolicy;
  readonly upstreams: ReadonlyMap<string, UpstreamPool>;
  /** The global cors block, for responses no route answers for (404, 405); routes carry their own. */
  readonly cors: CorsPolicy | null;
  readonly rateLimiting: RateLimiting;
  readonly warnings: readonly ConfigProblem[];
  /** Providers whose secret is the ${VAR:-default} fallback written in the file. */
  readonly defaultSecrets: readonly string[];
  /** Close what only this config uses (upstream agents, key sources not carried over). */
  close(next?: CompiledConfig): void;
}

export interface CompileOptions {
  readonly jwksEvents?: JwksEvents;
  /** The config being replaced: its JWKS key sources are reused where unchanged, keys and all (and its rate limit store). */
  readonly previous?: CompiledConfig;
  /** Where `rate_limit_store: memory` counts (a cluster worker's is the primary). */
  readonly memoryLimitStore?: LimitStore;
  readonly trafficEvents?: TrafficEvents;
}

export async function compileConfig(loaded: LoadedConfig, options: CompileOptions = {}): Promise<CompiledConfig> {
  const { config } = loaded;
  const settings = resolveSettings(config.server);
  const reusable = new Map((options.previous?.verifier.providers.all ?? []).map((p) => [jwksIdentity(p.keys), p.keys]));
  const providers = await Promise.all(
    (config.providers ?? []).map((p) => compileProvider(p, loaded, reusable, options.jwksEvents)),
  );
  const directory = new ProviderDirectory(providers);
  const upstreams = compileUpstreams(config, settings);
  const traffic = compileTraffic(config, {
    ...(options.previous ? { previous: options.previous.rateLimiting } : {}),
    ...(options.memoryLimitStore ? { memoryStore: options.memoryLimitStore } : {}),
    ...(options.trafficEvents ? { events: options.trafficEvents } : {}),
  });
  const routes = config.routes.map((route, index): Route => {
    const upstream = upstreams.get(route.upstream)!;
    const kind = route.path !== undefined ? 'exact' : 'prefix';
    return {
      name: route.name,
      index,
      pattern: compilePattern((route.path ?? route.prefix)!, kind, settings.caseInsensitivePaths),
      methods: routeMethods(route.methods),
      host: route.host !== undefined ? compileHost(route.host) : null,
      auth: route.auth ?? DEFAULTS.auth,
      requirement: {
        anyRoles: route.roles ?? [],
        allRoles: route.all_roles ?? [],
        scopes: route.scopes ?? [],
        providers: route.providers ? new Set(route.providers) : null,
      },
      upstream,
      stripPrefix: route.strip_prefix ?? false,
      timeoutMs: route.timeout !== undefined ? parseDuration(route.timeout) : upstream.timeoutMs,
      maxBody: route.max_body !== undefined ? parseSize(route.max_body) : null,
      cors: traffic.routeCors(route),
      rateLimit: traffic.routeRateLimit(route),
    };
  });

  const identityHeaderNames = Object.keys(config.forward?.headers ?? {}).map((n) => n.toLowerCase());
  const verifier: Verifier = {
    providers: directory,
    cache: new TokenCache(settings.tokenCacheSize),
    identityHeaders: Object.entries(config.forward?.headers ?? {}).map(([name, claim]) => ({
      name: name.toLowerCase(),
      claim: parseClaimPath(claim),
    })),
  };
  const compiled: CompiledConfig = {
    file: loaded.file,
    settings,
    router: new Router(routes, { caseInsensitive: settings.caseInsensitivePaths }),
    verifier,
    forward: {
      identityHeaders: identityHeaderNames,
      spoofable: spoofableNames(identityHeaderNames),
      stripAuthorization: (config.forward?.authorization ?? DEFAULTS.authorization) === 'strip',
      trust: trustPolicy(settings.trustProxy),
    },
    upstreams,
    cors: traffic.cors,
    rateLimiting: traffic.rateLimiting,
    warnings: loaded.warnings,
    defaultSecrets: (config.providers ?? [])
      .filter((_, i) => loaded.defaulted.has(`providers.${i}.secret`))
      .map((p) => p.name),
    close(next) {
      for (const pool of upstreams.values()) pool.close();
      const kept = new Set(next?.verifier.providers.all.map((p) => p.keys));
      for (const p of providers) if (!kept.has(p.keys)) p.keys.stop();
      verifier.cache.clear();
      const store = traffic.rateLimiting.store;
      if (next?.rateLimiting.store !== store && store !== options.memoryLimitStore) store.close();
    },
  };
  return compiled;
}

async function compileProvider(
  config: ProviderConfig,
  loaded: LoadedConfig,
  reusable: ReadonlyMap<string, KeySource>,
  jwksEvents: JwksEvents | undefined,
): Promise<Provider> {
  const keys = loaded.providerKeys.get(config.name) ?? {};
  const algorithms = config.algorithms ?? supportedAlgorithms(config, keys) ?? [];
  let source: KeySource;
  if (config.secret !== undefined) {
    source = await secretKeySource(config.secret, algorithms);
  } else if (config.jwks_uri !== undefined || config.discovery === true) {
    const fresh = new JwksKeySource({
      provider: config.name,
      ...(config.jwks_uri !== undefined ? { jwksUri: config.jwks_uri } : { discoveryIssuer: config.issuer! }),
      refreshMs: parseDuration(config.jwks_refresh ?? DEFAULTS.jwks_refresh),
      cooldownMs: parseDuration(config.jwks_cooldown ?? DEFAULTS.jwks_cooldown),
      ...(jwksEvents ? { events: jwksEvents } : {}),
    });
    source = reusable.get(jwksIdentity(fresh)) ?? fresh;
  } else {
    source = publicKeySource(keys.publicKey ?? createPublicKey(keys.signingKey!), algorithms);
  }
  const audience = config.audience === undefined ? undefined : [config.audience].flat();
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...algorithms],
    requiredClaims: ['exp'],
    clockTolerance: parseDuration(config.clock_tolerance ?? DEFAULTS.clock_tolerance) / 1000,
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(audience !== undefined ? { audience } : {}),
    ...(config.typ !== undefined ? { typ: config.typ } : {}),
  };
  return {
    name: config.name,
    issuer: config.issuer,
    keys: source,
    algorithms,
    rolesClaim: parseClaimPath(config.roles_claim ?? DEFAULTS.roles_claim),
    verifyOptions,
  };
}

/** Two JWKS sources are interchangeable when they fetch the same thing the same way for the same provider. */
function jwksIdentity(source: KeySource): string {
  if (!(source instanceof JwksKeySource)) return '';
  return JSON.stringify(source.describe());
}

function compileUpstreams(config: GatewayConfig, settings: Settings): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const spec = typeof upstream === 'string' ? { targets: [upstream] } : upstream;
    const timeoutMs = 'timeout' in spec && spec.timeout !== undefined ? parseDuration(spec.timeout) : settings.timeoutMs;
    const preserveHost = !('preserve_host' in spec) || spec.preserve_host !== false;
    const maxConnections = ('max_connections' in spec ? spec.max_connections : undefined) ?? DEFAULTS.max_connections;
    pools.set(name, new UpstreamPool(name, spec.targets.map((url) => createTarget(url, preserveHost, maxConnections)), timeoutMs));
  }
  return pools;
}
