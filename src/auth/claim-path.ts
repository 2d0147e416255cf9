// Claim paths: how gateway.yaml names a claim, and the one reader of a claim by its path.
//
// A plain path is names separated by dots: `realm_access.roles` is "roles" inside "realm_access". Claim
// names themselves may contain dots (Auth0's "https://example.com/roles", Keycloak's client ids under
// resource_access), so a plain path is read two ways, in this order and no other:
//   1. the top-level claim whose name is exactly the whole text ("https://example.com/roles");
//   2. otherwise each dot a step down ("realm_access" -> "roles").
// Nothing in between: `a.b.c` never reads "c" inside a claim named "a.b". A path with brackets names its
// segments explicitly and is read only as written: `resource_access["orders.api"].roles`.
import type { JWTPayload } from 'jose';

export interface ClaimPath {
  /** As written in gateway.yaml, for messages and explain. */
  readonly source: string;
  readonly segments: readonly string[];
  /** For a plain dotted path: the top-level claim spelled exactly so, which wins over the segments. */
  readonly topLevelName: string | undefined;
}

export type ClaimPathParse = { readonly ok: true; readonly path: ClaimPath } | { readonly ok: false; readonly message: string };

const SYNTAX_HINT = 'write names separated by single dots (realm_access.roles), and a name containing dots in brackets: resource_access["orders.api"].roles';

export function parseClaimPath(text: string): ClaimPathParse {
  if (text === '') return { ok: false, message: 'a claim path can not be empty' };
  if (!text.includes('[')) {
    const segments = text.split('.');
    if (segments.some((s) => s === '')) return { ok: false, message: `"${text}" has an empty name; ${SYNTAX_HINT}` };
    return { ok: true, path: { source: text, segments, topLevelName: segments.length > 1 ? text : undefined } };
  }
  return parseBracketed(text);
}

/** A path the config has already validated: compile-time only. */
export function claimPath(text: string): ClaimPath {
  const parsed = parseClaimPath(text);
  if (!parsed.ok) throw new TypeError(parsed.message);
  return parsed.path;
}

/** `name`, `.name` and `["quoted"]` / `['quoted']` segments; inside quotes only \" \' and \\ are escapes. */
function parseBracketed(text: string): ClaimPathParse {
  const segments: string[] = [];
  let i = 0;
  const fail = (why: string): ClaimPathParse => ({ ok: false, message: `"${text}": ${why}; ${SYNTAX_HINT}` });
  while (i < text.length) {
    let dotted = false;
    if (segments.length > 0 && text[i] !== '[') {
      if (text[i] !== '.') return fail(`expected "." or "[" at character ${i + 1}`);
      i++;
      dotted = true;
    }
    if (text[i] === '[' && !dotted) {
      const quote = text[i + 1];
      if (quote !== '"' && quote !== "'") return fail('a bracket holds a quoted name, like ["orders.api"]');
      let name = '';
      let j = i + 2;
      for (; j < text.length && text[j] !== quote; j++) {
        if (text[j] === '\\') {
          const next = text[j + 1];
          if (next !== '"' && next !== "'" && next !== '\\') return fail('only \\", \\\' and \\\\ are escapes inside quotes');
          j++;
        }
        name += text[j];
      }
      if (j >= text.length || text[j + 1] !== ']') return fail('a quoted name must be closed, then the bracket');
      if (name === '') return fail('a quoted name can not be empty');
      segments.push(name);
      i = j + 2;
      continue;
    }
    let end = i;
    while (end < text.length && text[end] !== '.' && text[end] !== '[' && text[end] !== ']') end++;
    if (end === i) return fail(`expected a name at character ${i + 1}`);
    if (text[end] === ']') return fail(`unexpected "]" at character ${end + 1}`);
    segments.push(text.slice(i, end));
    i = end;
  }
  return { ok: true, path: { source: text, segments, topLevelName: undefined } };
}

/** The claim at `path`, or undefined. Only own properties are read: never "constructor" or "__proto__". */
export function readClaim(payload: JWTPayload, path: ClaimPath): unknown {
  const whole = path.topLevelName;
  if (whole !== undefined && Object.prototype.hasOwnProperty.call(payload, whole)) return payload[whole];
  let current: unknown = payload;
  for (const part of path.segments) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Whether `path` is the single plain name `name` (the special header sources "roles" and "scopes"). */
export function isPlainName(path: ClaimPath, name: string): boolean {
  return path.source === name;
}
