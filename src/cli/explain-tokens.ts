// explain and tokens: --token goes where the matched route looks for one, and no token (nor any other
// credential) is ever printed: the output may be pasted into tickets.
import type { IncomingHttpHeaders } from 'node:http';
import { parseTokenSource } from '../auth/extract.ts';
import type { CompiledConfig } from '../config/compile.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { normalizeTarget } from '../routing/normalize.ts';

export interface CredentialNames {
  readonly headers: ReadonlySet<string>;
}

/** Headers some token_from reads: their values are tokens. */
export function credentialNames(config: GatewayConfig): CredentialNames {
  const sources = [...(config.providers ?? []).flatMap((p) => p.token_from ?? []), ...config.routes.flatMap((r) => r.token_from ?? [])];
  return { headers: new Set(sources.map(parseTokenSource).flatMap((s) => (s.kind === 'header' ? [s.name] : []))) };
}

/** The scheme of an Authorization value ("Bearer", "Basic"): the one part of it that may be printed. */
const SCHEME = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*(?=[ \t])/;

export function redactHeader(name: string, value: string, secrets: CredentialNames): string {
  if (name === 'authorization') {
    // Only a scheme followed by a space is a scheme: a token pasted without one ("Authorization: eyJ...")
    // is all credential, and was printed whole.
    const scheme = SCHEME.exec(value);
    return scheme === null ? '[redacted]' : `${scheme[0]} [redacted]`;
  }
  if (name === 'cookie' || secrets.headers.has(name)) return '[redacted]';
  return value;
}

/** The target with the values of token-carrying query parameters replaced. */
export function redactQuery(target: string, names: ReadonlySet<string>): string {
  const q = target.indexOf('?');
  if (q === -1 || names.size === 0) return target;
  const pairs = target.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    return names.has(decodeName(name)) ? `${name}=[redacted]` : pair;
  });
  return `${target.slice(0, q)}?${pairs.join('&')}`;
}

function decodeName(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * --token (or --claims) goes where the route the request matches looks first: the Authorization header,
 * another header, a cookie, or a query parameter (then the returned target carries it).
 */
export function placeToken(config: CompiledConfig, method: string, target: string, headers: IncomingHttpHeaders, token: string): string {
  const normalized = normalizeTarget(target);
  const match = normalized.ok ? config.router.match(method, headers.host, normalized.path) : undefined;
  const source = match?.kind === 'route' ? match.route.tokenSources[0] : undefined;
  if (source === undefined || source.kind === 'bearer') {
    headers.authorization = `Bearer ${token}`;
    return target;
  }
  if (source.kind === 'header') headers[source.name] = token;
  else if (source.kind === 'cookie') headers.cookie = headers.cookie ? `${String(headers.cookie)}; ${source.name}=${token}` : `${source.name}=${token}`;
  else return `${target}${target.includes('?') ? '&' : '?'}${encodeURIComponent(source.name)}=${token}`;
  return target;
}
