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

export class AccessLog {
  private readonly stream: { write(line: string): unknown };
  private readonly head: string;

  constructor(private readonly logger: Logger) {
    this.stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]!;
    this.head = `{"level":"info","pid":${process.pid},"time":`;
  }

  write(entry: AccessEntry): void {
    if (!this.logger.isLevelEnabled('info')) return;
    let line = this.head + Date.now() + ',"req_id":' + JSON.stringify(entry.requestId);
    if (entry.method !== undefined) line += ',"method":' + JSON.stringify(entry.method);
    line += ',"path":' + JSON.stringify(entry.path);
    if (entry.route !== undefined) line += ',"route":' + JSON.stringify(entry.route);
    line += ',"status":' + entry.status + ',"duration_ms":' + entry.durationMs;
    if (entry.upstream !== undefined) line += ',"upstream":' + JSON.stringify(entry.upstream);
    if (entry.subject !== undefined) line += ',"sub":' + JSON.stringify(entry.subject);
    if (entry.reason !== undefined) line += ',"reason":' + JSON.stringify(entry.reason);
    if (entry.client !== undefined) line += ',"client":' + JSON.stringify(entry.client);
    if (entry.aborted) line += ',"aborted":true';
    this.stream.write(line + TAIL);
  }
}
