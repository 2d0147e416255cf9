// Requests Node's parser refuses before they become requests: malformed or smuggling-shaped messages
// (400), oversized headers (431), clients too slow to send them (408). They get the same JSON errors.
import type { Duplex } from 'node:stream';

interface ParserError extends Error {
  code?: string;
}

export interface ParserRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** Why the parser refused a message; undefined when there is nobody to answer (the client is gone). */
export function parserRefusal(err: ParserError, socket: Duplex): ParserRefusal | undefined {
  if (err.code === 'ECONNRESET' || !socket.writable) return undefined;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : [400, 'bad_request', 'the request is not valid HTTP/1.1'];
  return { status, code, message };
}
