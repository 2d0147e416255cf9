// Requests Node's parser refuses before they become requests: malformed or smuggling-shaped messages
// (400), oversized headers (431), clients too slow to send them (408). They get the same JSON errors.
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import { errorReply, writeRawReply } from './respond.ts';

interface ParserError extends Error {
  code?: string;
}

export function handleClientError(err: ParserError, socket: Duplex, logger: Logger, metrics: GatewayMetrics): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : [400, 'bad_request', 'the request is not valid HTTP/1.1'];
  const requestId = randomUUID();
  logger.info({ req_id: requestId, status, reason: code, parser_error: err.code }, 'request');
  // Counted like any request, so that a flood of malformed ones shows on the dashboards.
  metrics.request('none', 'OTHER', status, 0);
  writeRawReply(socket, errorReply(requestId, { status, code, message }));
}
