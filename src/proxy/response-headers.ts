// What the client receives from the upstream: its headers minus the hop-by-hop ones, which describe the
// gateway-to-upstream connection, not ours (RFC 9110 §7.6.1). Node frames the response to the client
// itself (Content-Length as the upstream gave it, else chunked), and says keep-alive or close on its own
// connection's terms.
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export const RESPONSE_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate'] as const;

export function cleanResponseHeaders(headers: ResponseHeaders): void {
  const connection = headers.connection;
  if (typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close') {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'content-length') delete headers[name];
    }
  }
  for (const name of RESPONSE_HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
}
