// Readiness: the config is loaded, every provider has keys to verify with and, with
// rate_limit_failure: closed, the rate limit store answers. A load balancer should send traffic only to a
// ready gateway; a draining one says so. An unreachable store in `open` mode is a warning: requests pass.
// So is an upstream whose every target is out: its routes fail, but taking the gateway out of the load
// balancer would fail every other route too.
//
// The admin port may be opened to other hosts (server.admin_host), so /readyz is for anyone who can
// reach it: a reason names the provider and the kind of failure, never the URL or host its keys come
// from; only a discovery document that names another issuer has both issuers named (every token names
// its issuer anyway, and the difference is the fix). The full error, address included, is in the
// "fetching provider keys failed" warning log line.
import { describeKeyFailure } from '../auth/key-failure.ts';
import type { CompiledConfig } from '../config/compile.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  /** What is degraded without making the gateway unready. */
  readonly warnings?: readonly string[];
}

export function readinessOf(config: CompiledConfig | undefined, draining: boolean): Readiness {
  const reasons: string[] = [];
  if (draining) reasons.push('shutting down');
  if (config === undefined) reasons.push('no configuration loaded');
  const warnings: string[] = [];
  for (const provider of config?.verifier.providers.all ?? []) {
    const status = provider.keys.status();
    const why = status.failure !== undefined ? describeKeyFailure(status.failure) : undefined;
    if (!status.ready) reasons.push(`provider "${provider.name}": keys not fetched yet (${why ?? 'first fetch in progress'})`);
    // Keys held, but the identity provider (or the key file) has stopped giving new ones: a key it
    // rotates in now will not verify. Ready still: the tokens signed with the held keys pass.
    else if (why !== undefined) warnings.push(`provider "${provider.name}": the last key refresh failed (${why}); the keys already held keep verifying`);
  }
  const limiting = config?.rateLimiting;
  if (limiting !== undefined && !limiting.store.status().reachable) {
    const unreachable = `rate limit store (${limiting.store.kind}) unreachable`;
    if (limiting.failure === 'closed') reasons.push(`${unreachable}: rate limited routes answer 503 (rate_limit_failure: closed)`);
    else warnings.push(`${unreachable}: requests pass unlimited (rate_limit_failure: open)`);
  }
  const now = Date.now();
  for (const upstream of config?.upstreams.values() ?? []) {
    if (upstream.targets.some((target) => target.isUp(now))) continue;
    // Named, never addressed (the admin port may be reachable by anyone): the log line of each target's
    // failed checks or ejection has the address.
    warnings.push(
      upstream.activelyChecked
        ? `upstream "${upstream.name}": every target is out (failed health checks or ejected); its routes answer 503 no_healthy_upstream`
        : `upstream "${upstream.name}": every target is ejected; requests still go to one of them (panic mode)`,
    );
  }
  return { ready: reasons.length === 0, reasons, ...(warnings.length > 0 ? { warnings } : {}) };
}
