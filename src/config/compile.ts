// Compilation: a loaded config becomes the runtime objects the request path uses (route table, providers
// with their keys, upstream pools with their agents, the header policy). Nothing is re-parsed per request.
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
import { ConsistentHash, LeastRequest, RoundRobin, type Balancer } from '../proxy/balance.ts';
import { HealthChecker } from '../proxy/health.ts';
import { OutlierDetector } from '../proxy/outlier.ts';
import { RetryBudget, RetryPolicy } from '../proxy/retry.ts';
import { UpstreamTarget } from '../proxy/target.ts';
import { Upstream, type HashKey } from '../proxy/upstream.ts';
import { compileHost } from '../routing/host.ts';
import { compilePattern } from '../routing/pattern.ts';
import type { Route } from '../routing/route.ts';
import { Router } from '../routing/router.ts';
import type { LoadedConfig } from './load.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig, type ProviderConfig, type UpstreamObject } from './schema.ts';
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
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly warnings: readonly ConfigProblem[];
  /** Providers whose secret is the ${VAR:-default} fallback written in the file. */
  readonly defaultSecrets: readonly string[];
  /** Close what only this config uses (upstream agents, key sources not carried over). */
  close(next?: CompiledConfig): void;
}

/** What an upstream's health checks find, for logs and metrics. */
export interface UpstreamEvents {
  onHealthChange(upstream: string, target: string, healthy: boolean, why: string): void;
  onEjection(upstream: string, target: string, forMs: number): void;
}

export interface CompileOptions {
  readonly jwksEvents?: JwksEvents;
  readonly upstreamEvents?: UpstreamEvents;
  /** The config being replaced: its JWKS key sources are reused where unchanged, keys and all. */
  readonly previous?: CompiledConfig;
}

export async function compileConfig(loaded: LoadedConfig, options: CompileOptions = {}): Promise<CompiledConfig> {
  const { config } = loaded;
  const settings = resolveSettings(config.server);
  const reusable = new Map((options.previous?.verifier.providers.all ?? []).map((p) => [jwksIdentity(p.keys), p.keys]));
  const providers = await Promise.all(
    (config.providers ?? []).map((p) => compileProvider(p, loaded, reusable, options.jwksEvents)),
  );
  const directory = new ProviderDirectory(providers);
  const upstreams = compileUpstreams(config, settings, options.previous?.upstreams, options.upstreamEvents);
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
    warnings: loaded.warnings,
    defaultSecrets: (config.providers ?? [])
      .filter((_, i) => loaded.defaulted.has(`providers.${i}.secret`))
      .map((p) => p.name),
    close(next) {
      for (const upstream of upstreams.values()) upstream.close();
      const kept = new Set(next?.verifier.providers.all.map((p) => p.keys));
      for (const p of providers) if (!kept.has(p.keys)) p.keys.stop();
      verifier.cache.clear();
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

function compileUpstreams(
  config: GatewayConfig,
  settings: Settings,
  previous: ReadonlyMap<string, Upstream> | undefined,
  events: UpstreamEvents | undefined,
): Map<string, Upstream> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const spec: UpstreamObject = typeof upstream === 'string' ? { targets: [upstream] } : upstream;
    const targetOptions = {
      maxConnections: spec.max_connections ?? DEFAULTS.max_connections,
      connectTimeoutMs: parseDuration(spec.connect_timeout ?? DEFAULTS.connect_timeout),
      preserveHost: spec.preserve_host !== false,
    };
    const targets = spec.targets.map((url) => new UpstreamTarget(url, targetOptions));
    // What the last config found out about a target stays true after a reload: a dead target is not
    // sent requests again until the checks see it again.
    const before = previous?.get(name);
    for (const target of targets) {
      const known = before?.targets.find((t) => t.url === target.url);
      if (known === undefined) continue;
      target.healthy = spec.health_check === undefined ? true : known.healthy;
      if (spec.outlier_detection !== undefined) {
        target.ejectedUntil = known.ejectedUntil;
        target.ejections = known.ejections;
      }
    }
    upstreams.set(name, new Upstream({
      name,
      targets,
      balancer: balancerFor(spec, targets),
      balance: spec.balance ?? null,
      hashKey: spec.hash_key === undefined ? null : parseHashKey(spec.hash_key),
      timeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) : settings.timeoutMs,
      connectTimeoutMs: targetOptions.connectTimeoutMs,
      queueTimeoutMs: parseDuration(spec.queue_timeout ?? DEFAULTS.queue_timeout),
      retries: spec.retries === undefined ? null : retryPolicy(spec.retries),
      outliers: spec.outlier_detection === undefined ? null : new OutlierDetector(
        {
          consecutiveFailures: spec.outlier_detection.consecutive_failures ?? DEFAULTS.consecutive_failures,
          ejectionMs: parseDuration(spec.outlier_detection.ejection_time ?? DEFAULTS.ejection_time),
        },
        (target, forMs) => events?.onEjection(name, target.label, forMs),
      ),
      health: spec.health_check === undefined ? null : new HealthChecker(
        targets,
        {
          path: spec.health_check.path,
          intervalMs: parseDuration(spec.health_check.interval ?? DEFAULTS.health_interval),
          timeoutMs: parseDuration(spec.health_check.timeout ?? DEFAULTS.health_timeout),
          healthyThreshold: spec.health_check.healthy_threshold ?? DEFAULTS.healthy_threshold,
          unhealthyThreshold: spec.health_check.unhealthy_threshold ?? DEFAULTS.unhealthy_threshold,
        },
        (target, healthy, why) => events?.onHealthChange(name, target.label, healthy, why),
      ),
    }));
  }
  return upstreams;
}

function balancerFor(spec: UpstreamObject, targets: readonly UpstreamTarget[]): Balancer {
  switch (spec.balance ?? DEFAULTS.balance) {
    case 'least_request':
      return new LeastRequest(targets);
    case 'hash':
      return new ConsistentHash(targets);
    default:
      return new RoundRobin(targets);
  }
}

function parseHashKey(text: string): HashKey {
  if (text === 'sub' || text === 'ip') return { kind: text };
  if (text.startsWith('claim:')) return { kind: 'claim', path: parseClaimPath(text.slice('claim:'.length)) };
  return { kind: 'header', name: text.slice('header:'.length).toLowerCase() };
}

function retryPolicy(retries: NonNullable<UpstreamObject['retries']>): RetryPolicy {
  const share = Number((retries.budget ?? DEFAULTS.retry_budget).slice(0, -1)) / 100;
  return new RetryPolicy(
    retries.attempts ?? DEFAULTS.retry_attempts,
    new Set(retries.on ?? DEFAULTS.retry_on),
    retries.per_try_timeout === undefined ? null : parseDuration(retries.per_try_timeout),
    new RetryBudget(share),
  );
}
