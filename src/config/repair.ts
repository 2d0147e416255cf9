// A config with shape errors is still checked for everything else (unknown upstreams, duplicates, key
// files...), so that one run of validate lists every error. For that, the offending values are left out,
// or, where the schema requires one, replaced by an inert placeholder that no later check can complain
// about. The repaired config is only ever checked, never loaded.
import { z } from 'zod';
import { gatewaySchema, type GatewayConfig } from './schema.ts';
import { closest } from './suggest.ts';
import { isMapping } from './yaml-value.ts';

type Issue = z.core.$ZodIssue;
type Draft = Record<string, unknown>;

const PLACEHOLDER_URL = 'http://invalid.invalid';
const PLACEHOLDER_SECRET = 'placeholder-secret-of-at-least-32-bytes';

/**
 * A provider's key source written with the wrong type still says which kind of key was meant: checked as
 * that kind, the provider is not also "missing a key", and its algorithms are checked against the right
 * kind of key.
 */
const PROVIDER_KEY_PLACEHOLDERS: Readonly<Record<string, unknown>> = {
  secret: PLACEHOLDER_SECRET,
  jwks_uri: 'https://invalid.invalid/keys',
  discovery: true,
};

// An empty route list is itself an error, reported already; the other routes can still be checked.
const repairable = gatewaySchema.extend({ routes: z.array(gatewaySchema.shape.routes.element) });

export function repair(value: unknown, firstIssues: readonly Issue[]): GatewayConfig | undefined {
  if (value !== null && value !== undefined && !isMapping(value)) return undefined;
  const draft: Draft = structuredClone(value ?? {}) as Draft;
  let issues = firstIssues;
  for (let round = 0; round < 5; round++) {
    for (const issue of issues) {
      if (!fix(draft, issue)) return undefined;
    }
    const next = repairable.safeParse(draft);
    if (next.success) return next.data;
    issues = next.error.issues;
  }
  return undefined;
}

/** Makes the issue go away; false when it can not be. */
function fix(draft: Draft, issue: Issue): boolean {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const target = nodeAt(draft, path);
    if (isMapping(target)) for (const k of issue.keys) delete target[k];
    return true;
  }
  return (
    fillSection(draft, issue, path) ||
    fillListItem(draft, path) ||
    fillKeyFile(draft, path) ||
    fillPolicy(draft, path) ||
    fillOrigins(draft, path) ||
    takeSuggestion(draft, issue, path) ||
    dropNearestKey(draft, path)
  );
}

/** upstreams and routes are required; an upstream with a broken value is still defined. */
function fillSection(draft: Draft, issue: Issue, path: readonly (string | number)[]): boolean {
  const [section, name] = path;
  if (section === 'upstreams' && path.length === 1) {
    upstreams(draft);
    return true;
  }
  if (section === 'upstreams' && typeof name === 'string') {
    // Routes naming it are then not "unknown upstream"; a name that is itself invalid goes.
    if (issue.code === 'invalid_key') delete upstreams(draft)[name];
    else upstreams(draft)[name] = PLACEHOLDER_URL;
    return true;
  }
  if (section === 'routes' && path.length === 1) {
    if (!Array.isArray(draft.routes)) draft.routes = [];
    return true;
  }
  return false;
}

/** A route or provider that is no mapping, or lacks a required key, keeps its place (and index). */
function fillListItem(draft: Draft, path: readonly (string | number)[]): boolean {
  const [section, index, key] = path;
  if ((section !== 'routes' && section !== 'providers') || typeof index !== 'number' || !Array.isArray(draft[section])) return false;
  const list = draft[section] as unknown[];
  if (path.length === 2) {
    list[index] = section === 'routes' ? placeholderRoute(draft) : placeholderProvider(draft);
    return true;
  }
  const item = list[index];
  if (path.length !== 3 || !isMapping(item) || typeof key !== 'string') return false;
  if (key === 'name') {
    item.name = unusedName(draft, section, section === 'routes' ? 'unnamed-route' : 'unnamed-provider');
  } else if (section === 'routes' && key === 'upstream') {
    item.upstream = placeholderUpstream(draft);
  } else if (section === 'providers' && Object.hasOwn(PROVIDER_KEY_PLACEHOLDERS, key)) {
    item[key] = PROVIDER_KEY_PLACEHOLDERS[key];
  } else {
    return false;
  }
  return true;
}

/**
 * A broken public_key_file or jwks_file (a number, an entry written `{path: ...}`) still gives the provider a key
 * source, checked as public keys (a JWKS stand-in: no file to find), so it is not also "missing a key".
 */
function fillKeyFile(draft: Draft, path: readonly (string | number)[]): boolean {
  const [section, index, key] = path;
  if (section !== 'providers' || typeof index !== 'number' || (key !== 'public_key_file' && key !== 'jwks_file')) return false;
  const provider = (Array.isArray(draft.providers) ? draft.providers : [])[index];
  if (!isMapping(provider)) return false;
  delete provider[key];
  provider.jwks_uri ??= PROVIDER_KEY_PLACEHOLDERS.jwks_uri;
  return true;
}

/** A rate limit policy keeps its name (routes naming it are not "unknown"), with inert values for its broken ones. */
const POLICY_PLACEHOLDER: Readonly<Record<string, unknown>> = { requests: 1, per: '1s', key: 'route' };

function fillPolicy(draft: Draft, path: readonly (string | number)[]): boolean {
  const [section, name, key] = path;
  const policies = draft.rate_limits;
  if (section !== 'rate_limits' || typeof name !== 'string' || !isMapping(policies) || path.length > 3) return false;
  const policy = policies[name];
  if (path.length === 2 || !isMapping(policy)) {
    policies[name] = { ...POLICY_PLACEHOLDER };
    return true;
  }
  if (typeof key !== 'string' || !Object.hasOwn(POLICY_PLACEHOLDER, key)) return false;
  policy[key] = POLICY_PLACEHOLDER[key];
  return true;
}

/** A cors block whose origins are missing or broken stays a cors block, allowing one origin nobody has. */
function fillOrigins(draft: Draft, path: readonly (string | number)[]): boolean {
  const at = path.lastIndexOf('origins');
  if (at === -1 || at < path.length - 2) return false;
  const cors = nodeAt(draft, path.slice(0, at));
  if (!isMapping(cors)) return false;
  cors.origins = ['https://placeholder.invalid'];
  return true;
}

/** `auth: requried` is checked as the "required" it surely meant, not as the default it would fall back to. */
function takeSuggestion(draft: Draft, issue: Issue, path: readonly (string | number)[]): boolean {
  if (issue.code !== 'invalid_value' || typeof issue.input !== 'string' || path.length === 0) return false;
  const meant = closest(issue.input, issue.values.map(String));
  const parent = nodeAt(draft, path.slice(0, -1));
  if (meant === undefined || parent === null || typeof parent !== 'object') return false;
  (parent as Draft)[path[path.length - 1]!] = meant;
  return true;
}

/** Removes the innermost mapping key on the path: an optional value, or a list holding a bad item. */
function dropNearestKey(draft: Draft, path: readonly (string | number)[]): boolean {
  for (let k = path.length - 1; k >= 0; k--) {
    const parent = nodeAt(draft, path.slice(0, k));
    const step = path[k]!;
    if (typeof step === 'string' && isMapping(parent)) {
      delete parent[step];
      return true;
    }
  }
  return false;
}

function placeholderRoute(draft: Draft): Draft {
  // Public, so that it needs no provider; its path and name collide with nothing that is checked.
  return { name: unusedName(draft, 'routes', 'unnamed-route'), path: '/', upstream: placeholderUpstream(draft), auth: 'public' };
}

function placeholderProvider(draft: Draft): Draft {
  const name = unusedName(draft, 'providers', 'unnamed-provider');
  return { name, issuer: `urn:portcullis:placeholder:${name}`, secret: PLACEHOLDER_SECRET };
}

function placeholderUpstream(draft: Draft): string {
  const pools = upstreams(draft);
  let name = 'unnamed-upstream';
  for (let n = 2; name in pools; n++) name = `unnamed-upstream-${n}`;
  pools[name] = PLACEHOLDER_URL;
  return name;
}

function unusedName(draft: Draft, section: 'routes' | 'providers', base: string): string {
  const list = Array.isArray(draft[section]) ? (draft[section] as unknown[]) : [];
  const taken = new Set(list.map((item) => (isMapping(item) ? item.name : undefined)));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  return name;
}

function upstreams(draft: Draft): Draft {
  if (!isMapping(draft.upstreams)) draft.upstreams = {};
  return draft.upstreams as Draft;
}

function nodeAt(draft: Draft, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, step) => (node !== null && typeof node === 'object' ? (node as Draft)[step] : undefined), draft);
}
