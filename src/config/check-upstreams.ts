// upstreams: rules beyond the schema (keys that only mean something together, lower bounds on timers).
import { checkClaimPath, reporter } from './check-claims.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig } from './schema.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { parseDuration } from './units.ts';

/** Health checks any more often than this would be a load test of the upstream, not a check. */
const SHORTEST_CHECK_MS = 100;

export function checkUpstreams(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report = reporter(source, problems);
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (typeof upstream === 'string') continue;
    const at = (key: (string | number)[], code: string, message: string) =>
      problems.push(problemAt(source, ['upstreams', name, ...key], code, message));
    if (upstream.hash_key !== undefined && upstream.balance !== 'hash') {
      at(['hash_key'], 'hash_key_without_hash', 'hash_key is used only with balance: hash; add balance: hash or remove hash_key');
    }
    if (upstream.balance === 'hash' && upstream.hash_key === undefined) {
      at(['balance'], 'hash_without_key', 'balance: hash needs a hash_key: sub, ip, claim:<path> or header:<Name>');
    }
    if (upstream.hash_key?.startsWith('claim:')) checkClaimPath(upstream.hash_key.slice('claim:'.length), ['upstreams', name, 'hash_key'], report);
    const check = upstream.health_check;
    for (const key of ['interval', 'timeout'] as const) {
      const value = check?.[key];
      if (value !== undefined && parseDuration(value) < SHORTEST_CHECK_MS) {
        at(['health_check', key], 'health_check_too_often', `health_check.${key} must be at least ${SHORTEST_CHECK_MS}ms`);
      }
    }
    if (check?.timeout !== undefined && parseDuration(check.timeout) > parseDuration(check.interval ?? DEFAULTS.health_interval)) {
      const interval = check.interval === undefined ? ` (${DEFAULTS.health_interval} by default)` : '';
      at(['health_check', 'timeout'], 'health_check_timeout', `health_check.timeout must not be longer than its interval${interval}`);
    }
    // undici reads a connect timeout of 0 as none at all: a target that never answers would hold the request for ever.
    if (upstream.connect_timeout !== undefined && parseDuration(upstream.connect_timeout) === 0) {
      at(['connect_timeout'], 'zero_timeout', 'connect_timeout must be longer than 0');
    }
    const ejection = upstream.outlier_detection?.ejection_time;
    if (ejection !== undefined && parseDuration(ejection) === 0) {
      at(['outlier_detection', 'ejection_time'], 'zero_timeout', 'ejection_time must be longer than 0');
    }
    if (upstream.retries?.per_try_timeout !== undefined && parseDuration(upstream.retries.per_try_timeout) === 0) {
      at(['retries', 'per_try_timeout'], 'zero_timeout', 'per_try_timeout must be longer than 0');
    }
    if (upstream.retries !== undefined && (upstream.retries.attempts ?? DEFAULTS.retry_attempts) === 0) {
      const nothing = 'nothing is retried with attempts: 0 (the default); set attempts: 1 or more, or remove retries';
      report(['upstreams', name, 'retries'], 'retries_without_attempts', nothing, 'warning');
    }
  }
  return problems;
}
