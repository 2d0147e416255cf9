// The access log: one JSON line per request, in the same shape as every other pino line, written to the
// logger's own stream. The line is assembled here rather than through pino's generic serializer because
// it is written for every request and its fields are known: it costs a few string concatenations. Lines
// are handed to the stream in batches (64 KB, or after at most a second): pino's stream measures and
// appends its pending text on every write, which per line costs more than the request's own routing.
import { pino } from 'pino';
import { ACCESS_MESSAGE, type Logger } from './logger.ts';

/** What a log line says about a request (server/request-context.ts has it all). */
export interface AccessEntry {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly route: string | undefined;
  readonly upstream: string | undefined;
  readonly subject: string | undefined;
  readonly reason: string | undefined;
  readonly upstreamError: string | undefined;
  readonly upstreamAttempts: number;
  readonly upstreamTarget: string | undefined;
  readonly client: string;
}

const TAIL = `,"msg":${JSON.stringify(ACCESS_MESSAGE)}}\n`;
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;

function escaped(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"';
}

/** 1234 -> "1.234" (1500 -> "1.500": the same JSON number), with integer arithmetic only. */
export function milliseconds(micros: number): string {
  const whole = Math.floor(micros / 1000);
  const rest = micros - whole * 1000;
  return whole + (rest < 10 ? '.00' : rest < 100 ? '.0' : '.') + rest;
}

const BATCH_BYTES = 64 * 1024;
const BATCH_MS = 1000;

export class AccessLog {
  private readonly stream: { write(line: string): unknown };
  private readonly head: string;
  /** Lines not yet handed over, appended to one string (V8 keeps it as a rope until it is written). */
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  /** `batch: false` writes every line at once (tests read the log right after a request). */
  constructor(
    private readonly logger: Logger,
    private readonly batch = true,
  ) {
    this.stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]!;
    this.head = `{"level":"info","pid":${process.pid},"time":`;
  }

  /**
   * The time as pino writes it, as text made once per millisecond: the epoch in ms is too large for a
   * small integer, and turning a double into text is the dearest part of a line.
   */
  private now(): string {
    const now = Date.now();
    if (now !== this.lastTime) {
      this.lastTime = now;
      this.lastTimeText = String(now);
    }
    return this.lastTimeText;
  }

  private lastTime = 0;
  private lastTimeText = '0';

  /** Hand the pending lines to the stream now (on a timer, when the batch is full, and at shutdown). */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.stream.write(text);
  };

  /**
   * Request ids (sanitized or generated), methods (HTTP tokens), route and upstream names (config
   * names), reason codes and addresses never need JSON escaping; the path and the caller's sub, which
   * come from the client or its token, are escaped.
   */
  /** `micros`: the request's duration, a whole number of microseconds (written as milliseconds). */
  write(entry: AccessEntry, status: number, micros: number, aborted: boolean): void {
    if (!this.logger.isLevelEnabled('info')) return;
    let line = this.head + this.now() + ',"req_id":"' + entry.id + '","method":"' + entry.method + '"';
    line += ',"path":' + escaped(entry.path);
    if (entry.route !== undefined) line += ',"route":"' + entry.route + '"';
    line += ',"status":' + status + ',"duration_ms":' + milliseconds(micros);
    if (entry.upstream !== undefined) line += ',"upstream":"' + entry.upstream + '"';
    if (entry.upstreamTarget !== undefined) line += ',"upstream_target":"' + entry.upstreamTarget + '","upstream_attempts":' + entry.upstreamAttempts;
    if (entry.subject !== undefined) line += ',"sub":' + escaped(entry.subject);
    if (entry.reason !== undefined) line += ',"reason":"' + entry.reason + '"';
    if (entry.upstreamError !== undefined) line += ',"upstream_error":' + escaped(entry.upstreamError);
    if (entry.client !== '') line += ',"client":"' + entry.client + '"';
    if (aborted) line += ',"aborted":true';
    line += TAIL;
    if (!this.batch) {
      this.stream.write(line);
      return;
    }
    this.pending += line;
    if (this.pending.length >= BATCH_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, BATCH_MS);
      this.timer.unref();
    }
  }
}
