// What the client receives from the upstream: its headers minus the hop-by-hop ones, which describe the
// gateway-to-upstream connection, not ours (RFC 9110 §7.6.1). Node frames the response to the client
// itself (Content-Length as the upstream gave it, else chunked), and says keep-alive or close on its own
// connection's terms.
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate',
]);

/**
 * The upstream's header lines (as undici hands them over, raw) as the headers the client gets, in one
 * pass: names lower-cased, hop-by-hop ones and those the upstream's Connection header names left out,
 * repeated lines kept (Set-Cookie one per line, the others joined with ", " as RFC 9110 §5.3 allows).
 */
export function responseHeadersOf(raw: readonly Buffer[]): ResponseHeaders {
  const headers: ResponseHeaders = {};
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (RESPONSE_HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = value;
      continue;
    }
    const seen = headers[name];
    if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = `${seen}, ${value}`;
  }
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'content-length') delete headers[name];
    }
  }
  return headers;
}
