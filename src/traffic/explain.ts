// The traffic steps `portcullis explain` prints after the pipeline's: which rate limits the request would
// be counted against and under which key, and what its response would say about CORS. Nothing is counted:
// explain asks no store.
import type { CompiledConfig } from '../config/compile.ts';
import type { Decision, TraceStep } from '../pipeline/decision.ts';
import { describePolicy, keyOf, MISSING_KEY, type ClientFacts } from './rate-limit.ts';

export function trafficSteps(config: CompiledConfig, decision: Decision, client: ClientFacts): TraceStep[] {
  if (decision.kind === 'preflight') return [];
  const steps: TraceStep[] = [];
  const route = decision.route;
  const limits = route?.rateLimit;
  if (route !== undefined && limits != null) {
    const policies = (decision.kind === 'forward' ? limits.all : limits.ip).policies;
    if (policies.length === 0) {
      steps.push({ stage: 'rate_limit', outcome: 'skip', detail: 'a denied request counts only against ip policies; this route has none' });
    }
    for (const policy of policies) {
      const key = keyOf(policy, route, decision.identity, client, config.forward.trust);
      const where = config.rateLimiting.store.description;
      steps.push({
        stage: 'rate_limit',
        outcome: 'pass',
        detail: `policy "${policy.spec.name}" (${describePolicy(policy)}): counted under ${describeKey(policy.key.kind, key)} in ${where}; over the limit: 429 rate_limited (explain counts nothing)`,
      });
    }
  }
  const cors = route !== undefined ? route.cors : config.cors;
  const origin = client.headers.origin;
  if (cors === null) {
    if (origin !== undefined) steps.push({ stage: 'cors', outcome: 'skip', detail: 'the gateway does no CORS here: the response carries no CORS headers (the upstream\'s pass through)' });
  } else if (origin === undefined) {
    steps.push({ stage: 'cors', outcome: 'skip', detail: 'no Origin header: not a cross-origin browser request' });
  } else if (cors.allowsOrigin(origin)) {
    steps.push({ stage: 'cors', outcome: 'pass', detail: `origin ${origin} is allowed: Access-Control-Allow-Origin: ${cors.anyOrigin ? '*' : origin}${cors.credentials ? ', with credentials' : ''}` });
  } else {
    steps.push({ stage: 'cors', outcome: 'fail', detail: `origin ${origin} is not allowed: the response carries no Access-Control-Allow-Origin, so the browser keeps it from the page` });
  }
  return steps;
}

function describeKey(kind: string, key: string): string {
  if (key === MISSING_KEY) return 'the shared "missing" key (the request has no such value)';
  // A header may carry an API key: explain output gets pasted into tickets.
  if (kind === 'header') return 'the header\'s value (not shown)';
  return key.startsWith('v:') ? JSON.stringify(key.slice(2)) : 'a hash of a long value';
}
