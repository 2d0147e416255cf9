// Readiness: the config is loaded and every provider has keys to verify with. A load balancer should
// send traffic only to a ready gateway; a draining one says so.
import type { CompiledConfig } from '../config/compile.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export function readinessOf(config: CompiledConfig | undefined, draining: boolean): Readiness {
  const reasons: string[] = [];
  if (draining) reasons.push('shutting down');
  if (config === undefined) reasons.push('no configuration loaded');
  for (const provider of config?.verifier.providers.all ?? []) {
    const status = provider.keys.status();
    if (!status.ready) reasons.push(`provider "${provider.name}": keys not fetched yet (${status.error ?? 'first fetch in progress'})`);
  }
  return { ready: reasons.length === 0, reasons };
}
