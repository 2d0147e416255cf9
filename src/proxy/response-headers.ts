// What the client receives from the upstream: its headers minus the hop-by-hop ones, which describe the
// gateway-to-upstream connection, not ours (RFC 9110 §7.6.1).
import type { IncomingMessage, ServerResponse } from 'node:http';

const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authenticate'];

export function cleanResponseHeaders(proxyRes: IncomingMessage, _req: IncomingMessage, res?: ServerResponse): void {
  const headers = proxyRes.headers;
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'close' && name !== 'keep-alive') delete headers[name];
    }
  }
  if (proxyRes.statusCode !== 101) for (const name of HOP_BY_HOP) delete headers[name];
  // Our connection with the client keeps alive or closes on its own terms, not the upstream's.
  const keepAlive = (res as { shouldKeepAlive?: boolean } | undefined)?.shouldKeepAlive !== false;
  headers.connection = keepAlive ? 'keep-alive' : 'close';
}
