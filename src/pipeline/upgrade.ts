// What makes a request a WebSocket handshake the gateway may tunnel (RFC 6455 §4.1): GET, "Upgrade:
// websocket", no body. Anything else that asks for an upgrade is refused before any check or contact.
import type { IncomingHttpHeaders } from 'node:http';
import { deny, type Denial } from './decision.ts';

export function upgradeProblem(request: { readonly method?: string | undefined; readonly headers: IncomingHttpHeaders }): Denial | undefined {
  const { headers } = request;
  // Node hands a handshake's body bytes to the upgrade handler unparsed: the upstream would be told to
  // expect them and read the client's next request as that body (request smuggling).
  const length = headers['content-length'];
  if (headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
    return deny('upgrade_with_body', 'a WebSocket handshake must not carry a body');
  }
  // h2c (a direct HTTP/2 connection to the upstream, past every check) or any other protocol: no tunnel.
  if (request.method !== 'GET' || headers.upgrade?.toLowerCase() !== 'websocket') {
    return deny('upgrade_unsupported', 'only a GET with "Upgrade: websocket" can be upgraded here');
  }
  return undefined;
}
