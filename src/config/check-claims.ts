// Checks shared by providers, routes and forward: claim paths (syntax, and the warning for a URL or host
// name a dotted path would split), identity header maps, and token_from lists.
import { parseClaimPath } from '../auth/claim-path.ts';
import { RESERVED_HEADERS } from '../proxy/headers.ts';
import type { ConfigPath, ConfigProblem } from './problems.ts';
import { problemAt, type ConfigSource } from './source.ts';

export type Report = (path: ConfigPath, code: string, message: string, severity?: 'error' | 'warning', keyOf?: boolean) => void;

export function reporter(source: ConfigSource, problems: ConfigProblem[]): Report {
  return (path, code, message, severity = 'error', keyOf = false) => problems.push(problemAt(source, path, code, message, severity, keyOf));
}

/** A claim path at `path` (`keyOf`: the path names a mapping key, like a condition's claim). */
export function checkClaimPath(text: string, path: ConfigPath, report: Report, keyOf = false): void {
  const parsed = parseClaimPath(text);
  if (!parsed.ok) return report(path, 'bad_claim_path', parsed.message, 'error', keyOf);
  const warning = splitNamespaceWarning(text);
  if (warning !== undefined) report(path, 'ambiguous_claim_path', warning, 'warning', keyOf);
}

export function checkClaimPaths(value: string | readonly string[] | undefined, path: ConfigPath, report: Report): void {
  if (value === undefined) return;
  if (typeof value === 'string') return checkClaimPath(value, path, report);
  value.forEach((text, i) => checkClaimPath(text, [...path, i], report));
}

/** A URL or URN ("https://", "urn:"), or a host name followed by a path ("example.com/roles"). */
const NAMESPACE = /^(?:[a-z][a-z0-9+-]*:\/\/[^/]*|urn:[^/]*|(?:[a-z0-9-]+\.)+[a-z]{2,}(?=\/))/i;

/**
 * A plain path that cuts a URL or host name at its dots, so that no nested reading can be meant:
 * - "claims.https://example.com/roles": the URL starts after a dot, and the dots inside it would split it;
 * - "https://example.com/app.roles": read as one claim of that name, but the dot after the URL's host may
 *   mean "roles inside the claim https://example.com/app".
 * A whole URL without dots after its host ("https://example.com/roles") is the top-level claim of that
 * name and needs nothing.
 */
export function splitNamespaceWarning(text: string): string | undefined {
  if (text.includes('[') || !text.includes('.')) return undefined;
  const segments = text.split('.');
  for (let i = 1; i < segments.length; i++) {
    const rest = segments.slice(i).join('.');
    if (NAMESPACE.test(rest)) {
      const head = segments.slice(0, i).join('.');
      return `"${rest}" looks like a URL or host name, which this dotted path splits at its dots; to read the claim of that name inside "${head}", write ${head}["${rest}"]`;
    }
  }
  const namespace = NAMESPACE.exec(text);
  if (namespace === null) return undefined;
  const last = text.lastIndexOf('.');
  if (last < namespace[0].length) return undefined;
  const head = text.slice(0, last);
  const tail = text.slice(last + 1);
  return `read only as the claim named exactly "${text}" (a URL's dots are never a path); if you mean "${tail}" inside the claim "${head}", write ["${head}"].${tail}`;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 6265 §4.1.1 cookie-name: a token. */
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** forward.headers or a provider's forward.headers: valid, unreserved, unique names; valid claim paths. */
export function checkHeaderMap(headers: Record<string, string | string[]> | undefined, path: ConfigPath, report: Report): void {
  const seen = new Map<string, string>();
  for (const [name, claims] of Object.entries(headers ?? {})) {
    const at = [...path, name];
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) report(at, 'bad_header_name', `"${name}" is not a valid header name`, 'error', true);
    else if (RESERVED_HEADERS.has(lower)) report(at, 'reserved_header', `${name} is managed by the gateway or by HTTP itself and can not carry a claim`, 'error', true);
    else if (seen.has(lower)) report(at, 'duplicate_header', `${name} is already mapped as ${seen.get(lower)}; header names ignore case`, 'error', true);
    else if (name.includes('_')) report(at, 'underscore_header', `${name}: many proxies drop headers with underscores; prefer dashes`, 'warning', true);
    seen.set(lower, name);
    checkClaimPaths(claims, at, report);
  }
}

/** Headers a token can not be read from: the gateway or HTTP owns them, or another source reads them. */
const NOT_TOKEN_HEADERS: ReadonlySet<string> = new Set([...RESERVED_HEADERS].filter((h) => h !== 'authorization'));

/** token_from: known kinds, valid names, no repeats; a warning for tokens in URLs. */
export function checkTokenFrom(list: readonly string[] | undefined, path: ConfigPath, report: Report): void {
  const seen = new Set<string>();
  list?.forEach((text, i) => {
    const at = [...path, i];
    const colon = text.indexOf(':');
    const kind = colon === -1 ? text : text.slice(0, colon);
    const name = colon === -1 ? '' : text.slice(colon + 1);
    const key = kind === 'header' ? `header:${name.toLowerCase()}` : text;
    if (seen.has(key)) report(at, 'duplicate_token_source', `${text} is already in the list`);
    seen.add(key);
    if (kind === 'header') {
      if (!HEADER_NAME.test(name)) report(at, 'bad_token_source', `"${name}" is not a valid header name`);
      else if (name.toLowerCase() === 'authorization') report(at, 'bad_token_source', 'the Authorization header is the source "bearer"');
      else if (NOT_TOKEN_HEADERS.has(name.toLowerCase())) report(at, 'bad_token_source', `${name} is managed by the gateway or by HTTP itself and can not carry a token`);
    } else if (kind === 'cookie') {
      if (!COOKIE_NAME.test(name)) report(at, 'bad_token_source', `"${name}" is not a valid cookie name`);
    } else if (kind === 'query') {
      report(
        at,
        'query_token',
        'a token in the URL ends up in browser history, Referer headers and the logs of every proxy on the way (RFC 6750 §2.3); use it only where a client can send nothing else, like a browser WebSocket',
        'warning',
      );
    }
  });
}
