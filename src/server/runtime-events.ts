// What a running gateway says about itself: the config it loads, and what its parts report (key fetches
// and key files, upstream health, rate limit stores), as log lines and metrics. The log messages are a
// contract operators alert on.
import type { JwksEvents } from '../auth/jwks.ts';
import type { CompiledConfig, UpstreamEvents } from '../config/compile.ts';
import { formatProblem } from '../config/problems.ts';
import type { Settings } from '../config/settings.ts';
import type { TrafficEvents } from '../traffic/compile.ts';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';

export function jwksEventsFor(logger: Logger, metrics: GatewayMetrics): JwksEvents {
  return {
    onFetch(provider, outcome) {
      metrics.jwksFetch(provider, outcome.ok);
      if (outcome.ok) {
        if (outcome.changed) logger.info({ provider, keys: outcome.keys }, 'provider keys loaded');
      } else logger.warn({ provider, error: outcome.error }, 'fetching provider keys failed; retrying');
    },
    onFileRead(provider, file, outcome) {
      if (outcome.ok) logger.info({ provider, file, keys: outcome.keys }, 'provider key file reloaded');
      else logger.error({ provider, file, error: outcome.error }, 'provider key file refused; the keys already held keep verifying');
    },
  };
}

export function upstreamEventsFor(logger: Logger, metrics: GatewayMetrics): UpstreamEvents {
  return {
    onHealthChange(upstream, target, healthy, why) {
      if (healthy) logger.info({ upstream, target, why }, 'upstream target healthy again');
      else logger.warn({ upstream, target, why }, 'upstream target failed its health checks; it gets no requests');
    },
    onEjection(upstream, target, forMs) {
      metrics.upstreamEjection(upstream, target);
      logger.warn({ upstream, target, ejected_ms: forMs }, 'upstream target ejected after consecutive failures');
    },
  };
}

/**
 * Rate limit refusals and store errors are counted; a store outage is logged once, and its end. `failure`
 * is the newest config's failure mode, which the warning names.
 */
export function trafficEventsFor(logger: Logger, metrics: GatewayMetrics, failure: () => 'open' | 'closed'): TrafficEvents {
  return {
    limited: (route, policy) => metrics.limited(route, policy),
    storeError: () => metrics.rateLimitStoreError(),
    unreachable(store, error) {
      const effect = failure() === 'open' ? 'requests pass unlimited (rate_limit_failure: open)' : 'rate limited routes answer 503 (rate_limit_failure: closed)';
      logger.warn({ store, error }, `rate limit store unreachable: ${effect} until it is back`);
    },
    reachable: (store) => logger.info({ store }, 'rate limit store reachable again'),
  };
}

export function announceConfig(logger: Logger, config: CompiledConfig, trigger?: string): void {
  for (const warning of config.warnings) logger.warn({ warning: formatProblem(warning) }, 'config warning');
  for (const provider of config.defaultSecrets) {
    logger.warn(
      { provider },
      `DEV DEFAULT SECRET IN USE: provider "${provider}" verifies tokens with the fallback secret written in the config file; anyone who has read the file can mint tokens. Set its variable (e.g. JWT_SECRET) before exposing this gateway.`,
    );
  }
  logger.info(
    {
      ...(trigger !== undefined ? { trigger } : {}),
      routes: config.router.routes.map((r) => `${r.name}: ${r.methods ? [...r.methods].join(',') + ' ' : ''}${r.pattern.kind === 'exact' ? '' : 'prefix '}${r.pattern.source}${r.host ? ' host ' + r.host.source : ''} -> ${r.upstream.name} (${r.auth})`),
      providers: config.verifier.providers.all.map((p) => `${p.name}: ${p.issuer ?? 'any issuer'} [${p.algorithms.join(',')}] (${p.keys.kind})`),
    },
    trigger === undefined ? 'config loaded' : 'config reloaded',
  );
}

const RESTART_ONLY: readonly (keyof Settings)[] = ['host', 'port', 'adminHost', 'adminPort', 'workers', 'maxHeaderBytes'];

export function warnAboutRestartOnlySettings(logger: Logger, running: Settings, next: Settings): void {
  const changed = RESTART_ONLY.filter((k) => running[k] !== next[k]);
  if (changed.length > 0) logger.warn({ settings: changed }, 'these server settings take effect after a restart');
}
