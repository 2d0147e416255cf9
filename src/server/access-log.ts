// The access log: one JSON line per request, in the same shape as every other pino line, written to the
// logger's own stream. The line is assembled here rather than through pino's generic serializer because
// it is written for every request and its fields are known: it costs a few string concatenations.
import { pino } from 'pino';
import { ACCESS_MESSAGE, type Logger } from './logger.ts';

export interface AccessEntry {
  readonly requestId: string;
  readonly method: string | undefined;
  readonly path: string;
  readonly route: string | undefined;
  readonly status: number;
  readonly durationMs: number;
  readonly upstream: string | undefined;
  readonly subject: string | undefined;
  readonly reason: string | undefined;
  readonly client: string | undefined;
  readonly aborted: boolean;
}

const TAIL = `,"msg":${JSON.stringify(ACCESS_MESSAGE)}}\n`;
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;

function escaped(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"';
}

export class AccessLog {
  private readonly stream: { write(line: string): unknown };
  private readonly head: string;

  constructor(private readonly logger: Logger) {
    this.stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]!;
    this.head = `{"level":"info","pid":${process.pid},"time":`;
  }

  /**
   * Request ids (sanitized or generated), methods (HTTP tokens), route and upstream names (config
   * names), reason codes and addresses never need JSON escaping; the path and the caller's sub, which
   * come from the client or its token, are escaped.
   */
  write(entry: AccessEntry): void {
    if (!this.logger.isLevelEnabled('info')) return;
    let line = this.head + Date.now() + ',"req_id":"' + entry.requestId + '"';
    if (entry.method !== undefined) line += ',"method":"' + entry.method + '"';
    line += ',"path":' + escaped(entry.path);
    if (entry.route !== undefined) line += ',"route":"' + entry.route + '"';
    line += ',"status":' + entry.status + ',"duration_ms":' + entry.durationMs;
    if (entry.upstream !== undefined) line += ',"upstream":"' + entry.upstream + '"';
    if (entry.subject !== undefined) line += ',"sub":' + escaped(entry.subject);
    if (entry.reason !== undefined) line += ',"reason":"' + entry.reason + '"';
    if (entry.client !== undefined) line += ',"client":"' + entry.client + '"';
    if (entry.aborted) line += ',"aborted":true';
    this.stream.write(line + TAIL);
  }
}
