// Forwarding one HTTP request with undici: a target chosen by the upstream's balance policy, a wait for a
// free connection bounded by queue_timeout, the response streamed back with backpressure, and failed
// tries retried on another target where the retry policy and its budget allow. What happened (tries,
// target, cause of a failure) is written on the request's trace for the access log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type Dispatcher } from 'undici';
import { PRECISE_TIMEOUT_MS } from './precise-timeout.ts';
import { responseHeadersOf, type ResponseHeaders } from './response-headers.ts';
import type { RetryCondition } from './retry.ts';
import type { UpstreamTarget } from './target.ts';
import { enqueue, release, withdraw } from './target-queue.ts';
import type { Upstream } from './upstream.ts';

/**
 * unavailable: no response (refused, reset before answering, TLS failure); timeout: silent for too long;
 * reset: the upstream broke off a response already under way; overloaded: no free connection within
 * queue_timeout; no_healthy: every target is out.
 */
export type UpstreamFailure = 'unavailable' | 'timeout' | 'reset' | 'overloaded' | 'no_healthy';

export interface ForwardSpec {
  readonly upstream: Upstream;
  readonly method: string;
  /** The normalized path and query, to go under the target's base path. */
  readonly path: string;
  /** Header lines [name, value, ...] as rewritten for the upstream, ending with a ["host", ""] slot. */
  readonly headers: string[];
  /** The client's Host, sent with preserve_host. */
  readonly clientHost: string | undefined;
  /**
   * The request body: the client's stream, or the whole of a small one already read (it can be sent again
   * on a retry); null when the request's headers frame none (then none is ever sent).
   */
  readonly body: IncomingMessage | Buffer | null;
  readonly hashKey: string | undefined;
  readonly timeoutMs: number;
  /** A chunked body's limit (a declared length was checked before): counted as it streams. */
  readonly maxBody: number | null;
}

/** Where the exchange reports: the client's response, and the request's trace for logs and metrics. */
export interface ForwardSink {
  /** Tries made, and host:port of the target of the last. */
  upstreamAttempts: number;
  upstreamTarget: string | undefined;
  upstreamError: string | undefined;
  bodyBytes: number;
  /** Headers the gateway adds to the upstream's response (X-Request-Id...). */
  decorate(headers: ResponseHeaders): void;
  /** The exchange failed: answer the client (when nothing has gone to it yet), else cut its connection. */
  failed(failure: UpstreamFailure, cause: string | undefined): void;
  /** A chunked body passed the route's max_body. */
  bodyTooLarge(limit: number): void;
  retried(reason: RetryCondition): void;
  /** The request waited this long for a free connection. */
  queued(waitMs: number): void;
}

class QueueTimeout extends Error {
  readonly code = 'QUEUE_TIMEOUT';
}

export class HttpExchange {
  private current: Attempt | null = null;
  private tried: Set<UpstreamTarget> | null = null;
  private responded = false;
  private finished = false;
  private counting = false;

  constructor(
    private readonly spec: ForwardSpec,
    private readonly sink: ForwardSink,
    private readonly res: ServerResponse,
  ) {}

  start(): void {
    this.spec.upstream.retries?.budget.request(Date.now());
    this.next();
  }

  /** The client went away (or sent too much): abandon whatever is under way upstream. */
  abort(): void {
    this.finished = true;
    this.current?.cancel();
  }

  private next(): void {
    const { upstream } = this.spec;
    const target = upstream.choose(this.spec.hashKey, this.tried);
    if (target === undefined) return this.fail('no_healthy', undefined);
    this.sink.upstreamAttempts++;
    this.sink.upstreamTarget = target.label;
    const attempt = new Attempt(this, target);
    this.current = attempt;
    enqueue(target, attempt, upstream.queueTimeoutMs);
  }

  /** Called by the target's queue once the attempt may use a connection. */
  dispatch(attempt: Attempt, waitedMs: number): void {
    if (waitedMs > 0) this.sink.queued(waitedMs);
    const { spec } = this;
    const target = attempt.target;
    spec.headers[spec.headers.length - 1] = target.hostFor(spec.clientHost);
    const perTry = spec.upstream.retries?.perTryTimeoutMs ?? null;
    attempt.headersTimeoutMs = perTry !== null ? Math.min(perTry, spec.timeoutMs || perTry) : spec.timeoutMs;
    attempt.bodyTimeoutMs = spec.timeoutMs;
    const options: Dispatcher.DispatchOptions = {
      path: target.basePath + spec.path,
      method: spec.method as Dispatcher.HttpMethod,
      headers: spec.headers,
      body: spec.body,
      headersTimeout: attempt.headersTimeoutMs,
      bodyTimeout: attempt.bodyTimeoutMs,
      // One name for every request to the target, whatever its Host: undici reconnects when it changes.
      ...(target.https ? { servername: target.sni ?? '' } : {}),
    };
    target.pool.dispatch(options, attempt);
  }

  /** A try has a connection: a chunked body is counted from now (once, whatever the tries). */
  started(): void {
    const body = this.spec.body;
    if (this.spec.maxBody !== null && body !== null && !Buffer.isBuffer(body) && !this.counting) this.countBody(body, this.spec.maxBody);
  }

  /** The upstream's status line and headers: retried, or sent on to the client. */
  respond(attempt: Attempt, status: number, rawHeaders: readonly Buffer[]): boolean {
    const { upstream } = this.spec;
    const failing = status === 502 || status === 503 || status === 504;
    const outliers = upstream.outliers;
    if (outliers !== null) {
      if (failing) outliers.failure(attempt.target, Date.now());
      else outliers.success(attempt.target, Date.now());
    }
    if (failing && upstream.retries?.retriesStatus(status) === true && this.mayRetry(String(status) as RetryCondition)) {
      attempt.cancel();
      this.retry(attempt, String(status) as RetryCondition);
      return false;
    }
    const res = this.res;
    if (this.finished || res.destroyed) {
      attempt.cancel();
      return false;
    }
    const headers = responseHeadersOf(rawHeaders);
    this.sink.decorate(headers);
    try {
      res.writeHead(status, headers);
    } catch (err) {
      // A header value Node refuses to write (a control character the upstream sent): a broken response.
      attempt.cancel();
      this.fail('unavailable', (err as { code?: string }).code);
      return false;
    }
    this.responded = true;
    return true;
  }

  /** Written to the client; false (undici then pauses the upstream) until the client has taken it. */
  data(attempt: Attempt, chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => attempt.resume());
    return false;
  }

  end(): void {
    this.finished = true;
    this.res.end();
  }

  /** A try failed with `err`; `sent` when the request had been handed to a connection. */
  failedTry(attempt: Attempt, err: Error & { code?: string }, sent: boolean): void {
    if (this.finished) return;
    const { upstream } = this.spec;
    const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT';
    if (err instanceof QueueTimeout) return this.fail('overloaded', undefined);
    const cause = causeOf(err);
    upstream.outliers?.failure(attempt.target, Date.now());
    if (this.responded) return this.fail(timeout ? 'timeout' : 'reset', cause);
    const condition: RetryCondition = !sent ? 'connect_failure' : timeout ? '504' : 'reset';
    if (this.mayRetry(condition)) {
      this.sink.upstreamError = cause;
      return this.retry(attempt, condition);
    }
    this.fail(timeout ? 'timeout' : 'unavailable', cause);
  }

  private mayRetry(condition: RetryCondition): boolean {
    const retries = this.spec.upstream.retries;
    if (retries === null || this.finished || this.responded) return false;
    if (this.sink.upstreamAttempts > retries.attempts) return false;
    const body = this.spec.body;
    // A body the gateway read whole (server/forwarding.ts) can be sent again; a streamed one, once read, not.
    const bodyStarted = body !== null && !Buffer.isBuffer(body) && (body.readableDidRead || body.destroyed);
    return retries.allows(condition, this.spec.method, bodyStarted) && retries.budget.tryRetry(Date.now());
  }

  private retry(attempt: Attempt, reason: RetryCondition): void {
    (this.tried ??= new Set()).add(attempt.target);
    this.sink.retried(reason);
    this.next();
  }

  private fail(failure: UpstreamFailure, cause: string | undefined): void {
    this.finished = true;
    this.sink.upstreamError = cause;
    this.sink.failed(failure, cause);
  }

  /** A chunked body declares no length: it is counted as it streams, and stopped at the route's limit. */
  private countBody(body: IncomingMessage, limit: number): void {
    this.counting = true;
    body.on('data', (chunk: Buffer) => {
      this.sink.bodyBytes += chunk.length;
      if (this.sink.bodyBytes <= limit || this.finished) return;
      this.finished = true;
      this.sink.bodyTooLarge(limit);
      this.current?.cancel();
    });
  }
}

/**
 * One try on one target: the undici handler. It takes the callbacks that hand over the response head raw
 * (onConnect, onHeaders...), which undici 7 still serves beside its newer interface (onRequestStart,
 * onResponseStart...): the newer one wraps every request in an adapter that parses the headers into an
 * object, and the gateway then had to walk that object again for hop-by-hop names. Measured with
 * npm run bench:profile, the adapter, the parse and the second walk were ~2% of a request's CPU, against
 * under 1% for the one pass over the raw lines here (docs/PERFORMANCE.md).
 */
export class Attempt implements Dispatcher.DispatchHandler {
  private abortRequest: ((err: Error) => void) | null = null;
  private resumeResponse: (() => void) | null = null;
  private sent = false;
  private cancelled = false;
  /** Set by the target's queue: the try left it (dispatched) or was dropped (queue timeout, cancel). */
  settled = false;
  queueTimer: NodeJS.Timeout | undefined = undefined;
  queuedAt = 0;
  headersTimeoutMs = 0;
  bodyTimeoutMs = 0;
  /** Our own timer for a short timeout (precise-timeout.ts): waiting for the head, then between chunks. */
  private idleTimer: NodeJS.Timeout | undefined = undefined;
  /** The client is not taking the response (undici has paused the upstream): no wait counts against it. */
  private paused = false;

  constructor(
    readonly exchange: HttpExchange,
    readonly target: UpstreamTarget,
  ) {}

  /** Stop this try: leave the queue, or abort the request (undici then reports it as an error, ignored). */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.idleTimer);
    if (!this.settled) withdraw(this.target, this);
    this.abortRequest?.(new Error('cancelled'));
  }

  expire(): void {
    this.cancelled = true;
    this.exchange.failedTry(this, new QueueTimeout('no free connection in time'), false);
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** The client has taken what it was sent: the upstream is read again, and its silence counts again. */
  resume(): void {
    this.paused = false;
    this.idleTimer?.refresh();
    this.resumeResponse?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortRequest = abort;
    if (this.cancelled) {
      abort(new Error('cancelled'));
      return;
    }
    this.sent = true;
    this.exchange.started();
  }

  /**
   * The whole request, body included, is with the upstream: the wait for its answer starts now, as undici's
   * own headers timeout does (it does not count while it is still writing a body the upstream takes). A
   * client that sends its body slowly is the client's delay, not the upstream's: counted from the first
   * byte, it got the client a 504 and the target an outlier failure (a healthy target ejected by anyone
   * who can send half a body).
   */
  onRequestSent(): void {
    // An upstream may answer before it has the whole body: its head is in, the body timer runs.
    if (!this.cancelled && this.resumeResponse === null) this.watch(this.headersTimeoutMs, false);
  }

  /**
   * Keeps a short timeout to the millisecond: undici's own would fire up to a second late. Like undici's,
   * it does not fire while the response is paused because the client reads it slowly.
   */
  private watch(timeoutMs: number, headersReceived: boolean): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (timeoutMs <= 0 || timeoutMs >= PRECISE_TIMEOUT_MS) return;
    this.idleTimer = setTimeout(() => {
      if (this.paused) return; // refreshed (re-armed) by resume()
      this.abortRequest?.(headersReceived ? new errors.BodyTimeoutError('body timeout') : new errors.HeadersTimeoutError('headers timeout'));
    }, timeoutMs);
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.cancelled || status < 200) return true; // informational answers (103...) are not passed on
    this.resumeResponse = resume;
    this.watch(this.bodyTimeoutMs, true);
    if (!this.exchange.respond(this, status, rawHeaders)) this.cancel();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.cancelled) return true;
    this.idleTimer?.refresh();
    if (this.exchange.data(this, chunk)) return true;
    this.paused = true;
    return false;
  }

  onComplete(): void {
    clearTimeout(this.idleTimer);
    release(this.target);
    if (!this.cancelled) this.exchange.end();
  }

  onError(err: Error): void {
    clearTimeout(this.idleTimer);
    release(this.target);
    if (!this.cancelled) this.exchange.failedTry(this, err, this.sent);
  }
}

/** The system or undici code behind a failure, for the access log (never shown to the client). */
function causeOf(err: Error & { code?: string }): string | undefined {
  if (err.code === 'UND_ERR_SOCKET') {
    // undici's names for "the connection closed under the request" (node:http said ECONNRESET) and for an
    // answer it can not parse as one (an unsolicited 100 Continue among them).
    return err.message === 'bad response' ? 'UPSTREAM_BAD_RESPONSE' : 'ECONNRESET';
  }
  return err.code ?? (err.cause as { code?: string } | undefined)?.code;
}
