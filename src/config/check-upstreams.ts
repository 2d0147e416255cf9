// upstreams: rules beyond the schema (keys that only mean something together, lower bounds on timers).
import { checkClaimPath, reporter } from './check-claims.ts';
import type { ConfigProblem } from './problems.ts';
import type { GatewayConfig } from './schema.ts';
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
    if (check?.interval !== undefined && check.timeout !== undefined && parseDuration(check.timeout) > parseDuration(check.interval)) {
      at(['health_check', 'timeout'], 'health_check_timeout', 'health_check.timeout must not be longer than its interval');
    }
    if (upstream.retries?.per_try_timeout !== undefined && parseDuration(upstream.retries.per_try_timeout) === 0) {
      at(['retries', 'per_try_timeout'], 'zero_timeout', 'per_try_timeout must be longer than 0');
    }
  }
  return problems;
}
