// pino, writing JSON lines to stdout without blocking the event loop (the access log batches its own
// lines: access-log.ts). Request data is logged field by field (never whole headers), and the redaction
// list catches secrets that reach a log by mistake.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The message of access-log lines. */
export const ACCESS_MESSAGE = 'request';

// Exact paths only: wildcard paths make pino inspect every line, a measurable cost on the request path.
const REDACT = ['authorization', 'cookie', 'token', 'secret', 'headers.authorization', 'headers.cookie'];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label: string) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
