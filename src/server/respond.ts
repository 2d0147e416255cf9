// The one place errors become responses: a JSON body {error, message, request_id}, the RFC 6750
// challenge on 401/403, Allow on 405, Retry-After on 429, and the request's CORS and RateLimit headers (a
// browser app can read its errors). Nothing about the gateway's insides goes out.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Denial } from '../pipeline/decision.ts';
import { applyTrafficHeaders, type TrafficState } from '../traffic/response-headers.ts';

const REALM = 'portcullis';

export interface ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function errorReply(
  requestId: string,
  denial: Pick<Denial, 'status' | 'code' | 'message' | 'challenge' | 'allow' | 'closeConnection' | 'retryAfter'>,
  traffic?: TrafficState,
): ErrorReply {
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-request-id': requestId,
  };
  // Node closes the connection after a response that says so, and reads no further request from it.
  if (denial.closeConnection === true) headers.connection = 'close';
  if (denial.challenge !== undefined) headers['www-authenticate'] = challenge(denial);
  if (denial.allow !== undefined) headers.allow = denial.allow.join(', ');
  if (denial.retryAfter !== undefined) headers['retry-after'] = String(denial.retryAfter);
  if (traffic !== undefined) applyTrafficHeaders(headers, traffic);
  const body = JSON.stringify({ error: denial.code, message: denial.message, request_id: requestId });
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status: denial.status, code: denial.code, message: denial.message, headers, body };
}

/** Bearer realm="portcullis"[, error="...", error_description="..."][, scope="..."] (RFC 6750 §3). */
function challenge(denial: Pick<Denial, 'message' | 'challenge'>): string {
  let value = `Bearer realm="${REALM}"`;
  const error = denial.challenge?.error;
  if (error !== undefined) value += `, error="${error}", error_description="${quoted(denial.message)}"`;
  if (denial.challenge?.scope !== undefined) value += `, scope="${quoted(denial.challenge.scope)}"`;
  return value;
}

/** Inside a quoted-string, RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E only. */
function quoted(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '');
}

export function sendReply(res: ServerResponse, reply: ErrorReply): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

/** How long a socket that got a raw reply may take to close its side before it is cut. */
const LINGER_MS = 2000;

/** For connections that are not (or no longer) an HTTP response: WebSocket handshakes, parse errors. */
export function writeRawReply(socket: Duplex, reply: ErrorReply): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(reply.headers)) if (name !== 'connection') head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${reply.body}`);
  // A refused WebSocket handshake is a socket the HTTP server has let go of: nobody reads it, so if the client
  // sends anything more its close is never noticed, and the connection stays open for good, outside every
  // server timeout (one file descriptor per attacker request, and a shutdown that never ends). Discard what
  // it sends, so that its FIN is seen, and cut it after a grace period anyway.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
