// What the client receives from the upstream: its headers minus the hop-by-hop ones, which describe the
// gateway-to-upstream connection, not ours (RFC 9110 §7.6.1).
import type { IncomingMessage, ServerResponse } from 'node:http';

const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authenticate'];

export function cleanResponseHeaders(proxyRes: IncomingMessage, _req: IncomingMessage, res?: ServerResponse): void {
  const headers = proxyRes.headers;
  // Removed headers are set to undefined rather than deleted: http-proxy skips undefined values when it
  // copies them, and the object keeps its fast shape.
  const connection = headers.connection;
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'close' && name !== 'keep-alive' && name in headers) headers[name] = undefined;
    }
  }
  if (proxyRes.statusCode !== 101) {
    for (const name of HOP_BY_HOP) if (headers[name] !== undefined) headers[name] = undefined;
  }
  // Our connection with the client keeps alive or closes on its own terms, not the upstream's.
  headers.connection = (res as { shouldKeepAlive?: boolean } | undefined)?.shouldKeepAlive === false ? 'close' : 'keep-alive';
}
