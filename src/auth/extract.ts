// The extractor: where a request's token is. Each route looks in an ordered list of sources (token_from):
// `Authorization: Bearer <jwt>` (RFC 6750 §2.1), another header, a cookie, or a query parameter (§2.3).
// A token is one JWS in compact form; two different tokens in one request are refused, whatever carries
// them (§2: a client uses one method per request), because the gateway and an upstream could each read
// another one.
import type { IncomingHttpHeaders } from 'node:http';

export type TokenSource =
  | { readonly kind: 'bearer'; readonly key: string }
  | { readonly kind: 'header' | 'cookie' | 'query'; readonly key: string; readonly name: string };

export type Extraction =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string; readonly source: TokenSource }
  | { readonly kind: 'rejected'; readonly code: TokenFormatCode; readonly message: string };

export type TokenFormatCode =
  | 'token_duplicated'
  | 'token_scheme'
  | 'token_malformed'
  | 'token_encrypted'
  | 'token_too_large';

const NONE: Extraction = { kind: 'none' };
const BEARER = /^bearer +/i;
/** header.payload.signature, base64url (a JWS in compact serialization). */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export const BEARER_SOURCE: TokenSource = { kind: 'bearer', key: 'bearer' };

/** `bearer`, `header:X-Access-Token`, `cookie:session`, `query:access_token` (checked by validate). */
export function parseTokenSource(text: string): TokenSource {
  if (text === 'bearer') return BEARER_SOURCE;
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon) as 'header' | 'cookie' | 'query';
  // Header names ignore case; cookie and query parameter names do not.
  const name = kind === 'header' ? text.slice(colon + 1).toLowerCase() : text.slice(colon + 1);
  return { kind, name, key: `${kind}:${name}` };
}

/** "the Authorization header", "cookie \"session\"", for messages. */
export function describeSource(source: TokenSource): string {
  if (source.kind === 'bearer') return 'the Authorization header';
  return `${source.kind === 'query' ? 'query parameter' : source.kind} "${source.name}"`;
}

/**
 * The one token the request carries in `sources`, tried in order; the first source wins a tie. `query` is
 * the query string with its "?", or "".
 */
export function extractToken(
  sources: readonly TokenSource[],
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  query: string,
  maxTokenBytes: number,
): Extraction {
  if (sources.length === 1 && sources[0]!.kind === 'bearer') return extractBearer(headers, rawHeaders, maxTokenBytes);
  let found: Extract<Extraction, { kind: 'token' }> | undefined;
  for (const source of sources) {
    const extraction = extractFrom(source, headers, rawHeaders, query, maxTokenBytes);
    if (extraction.kind === 'rejected') return extraction;
    if (extraction.kind === 'none') continue;
    if (found === undefined) found = extraction;
    else if (found.token !== extraction.token) {
      return duplicated(`the request carries different tokens in ${describeSource(found.source)} and ${describeSource(source)}`);
    }
  }
  return found ?? NONE;
}

function extractFrom(source: TokenSource, headers: IncomingHttpHeaders, rawHeaders: readonly string[], query: string, maxTokenBytes: number): Extraction {
  switch (source.kind) {
    case 'bearer':
      return extractBearer(headers, rawHeaders, maxTokenBytes);
    case 'header': {
      const value = headers[source.name];
      if (value === undefined) return NONE;
      if (countHeader(rawHeaders, source.name) > 1) return duplicated(`the request has more than one ${source.name} header`);
      return asToken(String(value).trim(), source, maxTokenBytes);
    }
    case 'cookie': {
      const values = cookieValues(headers.cookie, source.name);
      if (values.length > 1) return duplicated(`the request carries the cookie "${source.name}" more than once`);
      return values.length === 0 ? NONE : asToken(values[0]!, source, maxTokenBytes);
    }
    case 'query': {
      const values = queryValues(query, source.name);
      if (values.length > 1) return duplicated(`the query names "${source.name}" more than once`);
      return values.length === 0 ? NONE : asToken(values[0]!, source, maxTokenBytes);
    }
  }
}

export function extractBearer(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  maxTokenBytes: number,
): Extraction {
  const value = headers.authorization;
  if (value === undefined) return NONE;
  // Node keeps only the first of repeated Authorization headers; which one an upstream would use is
  // anyone's guess, so a request carrying two is refused.
  if (countHeader(rawHeaders, 'authorization') > 1) {
    return duplicated('the request has more than one Authorization header');
  }
  const scheme = BEARER.exec(value);
  if (scheme === null) {
    return { kind: 'rejected', code: 'token_scheme', message: 'the Authorization header must use the Bearer scheme' };
  }
  const token = value.slice(scheme[0].length).trimEnd();
  if (token === '') return malformed();
  return asToken(token, BEARER_SOURCE, maxTokenBytes);
}

/** An empty header, cookie or parameter carries no token (a logged-out browser keeps "session="). */
function asToken(token: string, source: TokenSource, maxTokenBytes: number): Extraction {
  if (token === '') return NONE;
  if (token.length > maxTokenBytes) {
    return {
      kind: 'rejected',
      code: 'token_too_large',
      message: `the token is larger than ${maxTokenBytes} bytes (server.max_token_size)`,
    };
  }
  if (JWS_COMPACT.test(token)) return { kind: 'token', token, source };
  if (JWE_COMPACT.test(token)) {
    return { kind: 'rejected', code: 'token_encrypted', message: 'encrypted tokens (JWE) are not accepted; send a signed JWT' };
  }
  return malformed();
}

function malformed(): Extraction {
  return { kind: 'rejected', code: 'token_malformed', message: 'the token is not a JWT (header.payload.signature)' };
}

function duplicated(message: string): Extraction {
  return { kind: 'rejected', code: 'token_duplicated', message };
}

export function countHeader(rawHeaders: readonly string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) count++;
  }
  return count;
}

/**
 * Every value of the cookie `name` (RFC 6265 §4.2.1: "name=value" pairs separated by ";"; Node joins
 * repeated Cookie headers with "; "). Names compare exactly; a value in double quotes is unquoted. A
 * cookie sent twice (one set for the parent domain by a sibling subdomain, "cookie tossing") is reported
 * twice, so that the caller can refuse the ambiguity.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined || !header.includes(name)) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    values.push(value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
  }
  return values;
}

/** Every value of the query parameter `name`, names and values percent-decoded ("+" is a space). */
export function queryValues(query: string, name: string): string[] {
  if (query.length < 2) return [];
  const values: string[] = [];
  for (const pair of query.slice(1).split('&')) {
    const eq = pair.indexOf('=');
    if (decodeComponent(eq === -1 ? pair : pair.slice(0, eq)) === name) values.push(eq === -1 ? '' : decodeComponent(pair.slice(eq + 1)));
  }
  return values;
}

/**
 * The query without the parameters named in `names` (compared decoded, so "access%5Ftoken" goes too),
 * everything else kept byte for byte; "" when nothing is left.
 */
export function withoutQueryParameters(query: string, names: ReadonlySet<string>): string {
  if (query.length < 2) return query;
  const kept = query
    .slice(1)
    .split('&')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      return !names.has(decodeComponent(eq === -1 ? pair : pair.slice(0, eq)));
    });
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}

function decodeComponent(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
