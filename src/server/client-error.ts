// Requests Node's parser refuses before they become requests: malformed or smuggling-shaped messages
// (400), oversized headers (431), clients too slow to send them (408). They get the same JSON errors.
import type { Duplex } from 'node:stream';
import { deny, type Denial } from '../pipeline/decision.ts';

interface ParserError extends Error {
  code?: string;
}

export type ParserRefusal = Denial;

/** Why the parser refused a message; undefined when there is nobody to answer (the client is gone). */
export function parserRefusal(err: ParserError, socket: Duplex): ParserRefusal | undefined {
  if (err.code === 'ECONNRESET' || !socket.writable) return undefined;
  if (err.code === 'HPE_HEADER_OVERFLOW') return deny('headers_too_large', 'the request headers are too large');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return deny('request_timeout', 'the request was not received in time');
  return deny('bad_request', 'the request is not valid HTTP/1.1');
}
