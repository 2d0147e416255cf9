// pino, writing JSON lines to stdout without blocking the event loop. Access lines (msg "request") are
// batched: written once 4 KB have gathered, or within a second; every other line is written at once.
// Request data is logged field by field (never whole headers), and the redaction list catches secrets
// that reach a log by mistake.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The access-log message: lines with it are batched. */
export const ACCESS_MESSAGE = 'request';

// Exact paths only: wildcard paths make pino inspect every line, a measurable cost on the request path.
const REDACT = ['authorization', 'cookie', 'token', 'secret', 'headers.authorization', 'headers.cookie'];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 });
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label: string) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args);
          if (destination === undefined && args[1] !== ACCESS_MESSAGE) this.flush();
        },
      },
    },
    stream,
  );
}
