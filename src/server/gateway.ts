// The HTTP face of the pipeline. Every request, HTTP or WebSocket handshake, takes one path:
// begin (a RequestContext) -> decide (pipeline/decide.ts) -> admit (traffic/admit.ts: rate limits) ->
// refuse, answer a CORS preflight, or forward -> record (the access log line, the metrics, the config
// released), exactly once.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { deny, type Decision, type Denial, type Forward, type Preflight } from '../pipeline/decision.ts';
import { decide, type Awaitable } from '../pipeline/decide.ts';
import type { DenialCode } from '../pipeline/denials.ts';
import { upgradeProblem } from '../pipeline/upgrade.ts';
import type { UpstreamFailure } from '../proxy/forward.ts';
import type { ResponseHeaders } from '../proxy/response-headers.ts';
import type { RetryCondition } from '../proxy/retry.ts';
import { admit } from '../traffic/admit.ts';
import { applyTrafficHeaders } from '../traffic/response-headers.ts';
import { AccessLog } from './access-log.ts';
import { parserRefusal, type ParserRefusal } from './client-error.ts';
import type { ConfigHolder } from './config-holder.ts';
import { forwardHttp, forwardUpgrade } from './forwarding.ts';
import { holdBack, readOn, type PipelinedSocket } from './pipelined.ts';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import { RequestContext, type ContextEvents } from './request-context.ts';
import { errorReply, sendReply, writeRawReply, type ErrorReply } from './respond.ts';

export interface GatewayDeps {
  readonly holder: ConfigHolder;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Batch access-log lines (false when a test reads the log right after each request). */
  readonly batchAccessLog?: boolean;
}

const UPSTREAM_FAILURES: Record<UpstreamFailure, { code: DenialCode; message: string }> = {
  unavailable: { code: 'upstream_unavailable', message: 'the upstream could not be reached' },
  timeout: { code: 'upstream_timeout', message: 'the upstream did not answer in time' },
  reset: { code: 'upstream_reset', message: 'the upstream broke off its response' },
  overloaded: { code: 'upstream_overloaded', message: 'the upstream has no free connection; try again shortly' },
  no_healthy: { code: 'no_healthy_upstream', message: 'no healthy upstream target is available' },
};

/** nginx's code for "the client closed the connection before the response". */
const CLIENT_CLOSED = 499;
/** Where the context of a response is kept, for its 'close' listener (one function for every response). */
const CONTEXT = Symbol('portcullis.context');
type Tracked = ServerResponse & { [CONTEXT]?: RequestContext };

export class Gateway implements ContextEvents {
  private readonly accessLog: AccessLog;
  /** Upgraded (WebSocket) connections: the HTTP server no longer sees them, so shutdown must reach them here. */
  private readonly upgraded = new Set<Duplex>();
  private draining = false;
  /**
   * Connections whose next message the parser refused while a response was still being written: the
   * error reply waits for that response (and any queued behind it) to finish, so it never lands inside one.
   */
  private readonly refusedAfter = new WeakMap<Duplex, ErrorReply>();

  constructor(private readonly deps: GatewayDeps) {
    this.accessLog = new AccessLog(deps.logger, deps.batchAccessLog !== false);
    const gateway = this;
    // One listener function for every response: EventEmitter hands it the response as `this`.
    this.closed = function (this: Tracked) {
      gateway.responseClosed(this);
    };
  }

  /**
   * node:http 'request' listener. Pipelined requests are handled one at a time, as nginx does: Node
   * emits 'request' for each as soon as it is parsed, but queues its response behind the one being
   * written (no socket yet). A queued request starts only once its response has the connection, so a
   * client that hangs up leaves nothing running upstream that nobody logs, counts or aborts (Node emits
   * no 'close' for responses still queued when the connection goes), and a request behind a response
   * that closes the connection never runs at all. A connection is not read far ahead of the requests
   * waiting on it (pipelined.ts).
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (res.socket !== null) return this.begin(req, res);
    const connection = req.socket as PipelinedSocket;
    holdBack(connection);
    res.once('socket', () => {
      readOn(connection);
      this.begin(req, res);
    });
  };

  /** node:http 'upgrade' listener: a WebSocket handshake passes the same checks as any request. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const context = new RequestContext(this, req, null, this.deps.holder.acquire(), socket as Socket);
    this.deps.metrics.inFlight++;
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    // Node hands over a handshake pipelined behind a request whose response is still being written: a 101
    // or an error written now would land inside that response. It is refused once that response is done.
    if (busy(socket)) {
      const denial = deny('upgrade_pipelined', 'a WebSocket handshake must not be pipelined behind another request');
      this.note(context, denial);
      this.refusedAfter.set(socket, errorReply(context.id, denial, context));
      this.record(context, denial.status);
      return;
    }
    const problem = upgradeProblem(req);
    if (problem !== undefined) return this.refuse(context, problem);
    this.run(context, head);
  };

  /** node:http 'clientError' listener: a message the parser refused (logged and counted like any request). */
  readonly handleClientError = (err: Error & { code?: string }, socket: Duplex): void => {
    if (this.refusedAfter.has(socket)) return; // the parser reports the same error for every later chunk
    const refusal = parserRefusal(err, socket);
    if (refusal === undefined) {
      socket.destroy();
      return;
    }
    const current = (socket as { _httpMessage?: Tracked | null })._httpMessage;
    const context = current?.[CONTEXT];
    if (current != null && context !== undefined && !current.req.complete) {
      // The refused bytes are the body of the request being handled (a bad chunk, a body too slow): that
      // request is the one refused, with its own log line, and what it started upstream is abandoned.
      return this.refuseBroken(context, current, refusal);
    }
    const reply = errorReply(randomUUID(), refusal);
    this.deps.logger.info({ req_id: reply.headers['x-request-id'], status: reply.status, reason: reply.code, parser_error: err.code }, 'request');
    // Counted like any request, so that a flood of malformed ones shows on the dashboards.
    this.deps.metrics.request('none', 'OTHER', reply.status, 0);
    if (current != null) this.refusedAfter.set(socket, reply);
    else writeRawReply(socket, reply);
  };

  /** From now on, responses close their connections (shutdown has begun). */
  drain(): void {
    this.draining = true;
  }

  /** Cut every open WebSocket connection (the drain deadline has passed). */
  closeUpgraded(): void {
    for (const socket of this.upgraded) socket.destroy();
  }

  /** Write out what the access log still holds (at shutdown). */
  flushLog(): void {
    this.accessLog.flush();
  }

  private begin(req: IncomingMessage, res: ServerResponse): void {
    const context = new RequestContext(this, req, res, this.deps.holder.acquire(), res.socket as Socket);
    (res as Tracked)[CONTEXT] = context;
    res.on('close', this.closed); // 'close' comes once; on() spares the wrapper once() allocates
    this.deps.metrics.inFlight++;
    // While draining, every response says "Connection: close": a client that reused the connection for its
    // next request would have it cut under it.
    if (this.draining) res.shouldKeepAlive = false;
    this.run(context, null);
  }

  /** decide -> admit -> refuse or forward; a failure here is this request's 500, never the process's crash. */
  private run(context: RequestContext, head: Buffer | null): void {
    let decision: Awaitable<Decision>;
    try {
      decision = decide(context.active.config, context.req as IncomingMessage & { method: string; url: string });
    } catch (err) {
      return this.internalError(context, err);
    }
    if (decision instanceof Promise) {
      decision.then(
        (settled) => this.settle(context, settled, head),
        (err: unknown) => this.internalError(context, err),
      );
    } else {
      this.settle(context, decision, head);
    }
  }

  /** Admission: the request counted against its route's rate limits (for denials too, by ip). */
  private settle(context: RequestContext, decision: Decision, head: Buffer | null): void {
    let admitted: Awaitable<Decision>;
    try {
      admitted = admit(context.active.config, decision, context.req, context);
    } catch (err) {
      return this.internalError(context, err);
    }
    if (admitted instanceof Promise) {
      admitted.then(
        (settled) => this.apply(context, settled, head),
        (err: unknown) => this.internalError(context, err),
      );
    } else {
      this.apply(context, admitted, head);
    }
  }

  private apply(context: RequestContext, decision: Decision, head: Buffer | null): void {
    try {
      if (decision.kind === 'deny') this.refuse(context, decision);
      else if (decision.kind === 'preflight') this.answerPreflight(context, decision);
      else this.forward(context, decision, head);
    } catch (err) {
      this.internalError(context, err);
    }
  }

  /** A CORS preflight: 204 with the allow headers, or a 403 without them; never forwarded, never counted. */
  private answerPreflight(context: RequestContext, preflight: Preflight): void {
    context.route = preflight.route.name;
    const { verdict } = preflight;
    if (context.res === null) {
      // A handshake is a GET (pipeline/upgrade.ts): an OPTIONS preflight never gets this far on that path.
      return this.refuse(context, deny('upgrade_unsupported', 'a CORS preflight can not upgrade the connection', { route: preflight.route }));
    }
    if (!verdict.allowed) {
      context.reason = verdict.code!;
      sendReply(context.res, errorReply(context.id, deny(verdict.code!, verdict.message!)));
      return;
    }
    const headers: Record<string, string> = { 'x-request-id': context.id };
    preflight.cors.preflightHeaders(preflight.origin, headers);
    context.res.writeHead(204, headers);
    context.res.end();
  }

  private forward(context: RequestContext, decision: Forward, head: Buffer | null): void {
    this.note(context, decision);
    if (context.res === null) forwardUpgrade(context, decision, head ?? Buffer.alloc(0), (status) => this.record(context, status));
    else forwardHttp(context, context.res, decision);
  }

  private refuse(context: RequestContext, denial: Denial): void {
    this.note(context, denial);
    this.reply(context, errorReply(context.id, denial, context));
  }

  /**
   * The gateway's own answer: on the response of an HTTP request (recorded when it closes), or raw on the
   * socket of a WebSocket handshake, which has no response to close (recorded now).
   */
  private reply(context: RequestContext, reply: ErrorReply): void {
    if (context.res !== null) {
      sendReply(context.res, reply);
      return;
    }
    writeRawReply(context.socket, reply);
    this.record(context, reply.status);
  }

  /** The parser refused the body of the request in flight: answer it (or cut it), then abandon the upstream. */
  private refuseBroken(context: RequestContext, res: ServerResponse, refusal: ParserRefusal): void {
    context.reason = refusal.code;
    if (res.headersSent) res.destroy();
    else sendReply(res, errorReply(context.id, refusal, context));
    context.exchange?.abort();
  }

  private note(context: RequestContext, decision: Denial | Forward): void {
    context.route = decision.route?.name;
    context.subject = decision.identity?.subject;
    if (decision.kind === 'deny') {
      context.reason = decision.code;
      if (decision.status === 401 || decision.status === 403 || decision.status === 503) this.deps.metrics.denial(decision.code);
    } else {
      context.upstream = decision.route.upstream.name;
    }
  }

  // ContextEvents: what the forwarding reports about a request.

  decorate(context: RequestContext, headers: ResponseHeaders): void {
    headers['x-request-id'] = context.id;
    applyTrafficHeaders(headers, context);
    // Checked as the response goes out, so it covers requests that were in flight when draining began.
    if (this.draining && context.res !== null) context.res.shouldKeepAlive = false;
  }

  upstreamFailed(context: RequestContext, failure: UpstreamFailure, cause: string | undefined): void {
    const { code, message } = UPSTREAM_FAILURES[failure];
    context.reason = code;
    context.upstreamError = cause;
    if (context.upstream !== undefined) this.deps.metrics.upstreamError(context.upstream, failure);
    // Once the upstream's status line has gone out, the only honest signal left is to cut the connection
    // (sendReply does, when the head has been sent).
    this.reply(context, errorReply(context.id, deny(code, message), context));
  }

  bodyTooLarge(context: RequestContext, limit: number): void {
    this.refuse(context, deny('body_too_large', `the request body is larger than ${limit} bytes`));
  }

  retried(context: RequestContext, reason: RetryCondition): void {
    if (context.upstream !== undefined) this.deps.metrics.upstreamRetry(context.upstream, reason);
  }

  queued(context: RequestContext, waitMs: number): void {
    if (context.upstream !== undefined) this.deps.metrics.queueWait(context.upstream, waitMs / 1000);
  }

  private internalError(context: RequestContext, err: unknown): void {
    this.deps.logger.error({ req_id: context.id, err: describeError(err) }, 'internal error while handling a request');
    context.reason = 'internal_error';
    this.reply(context, errorReply(context.id, deny('internal_error', 'the gateway failed to handle the request'), context));
  }

  private readonly closed: (this: Tracked) => void;

  /** 'close' of every HTTP response: the client-gone abort, then the record. */
  private responseClosed(res: Tracked): void {
    const context = res[CONTEXT]!;
    const completed = res.writableFinished;
    // The client went away before the response was complete: stop the upstream work too.
    if (!completed) context.exchange?.abort();
    this.record(context, completed || res.headersSent ? res.statusCode : CLIENT_CLOSED, !completed);
    const refusal = this.refusedAfter.get(context.socket);
    // Node has already handed the connection to the next queued response, if there is one.
    if (refusal !== undefined && !busy(context.socket)) {
      this.refusedAfter.delete(context.socket);
      writeRawReply(context.socket, refusal);
    }
  }

  /** The end of every request: one access log line, its metrics, the config released. */
  private record(context: RequestContext, status: number, aborted = false): void {
    if (context.recorded) return;
    context.recorded = true;
    this.deps.metrics.inFlight--;
    this.deps.holder.release(context.active);
    const seconds = (performance.now() - context.startedAt) / 1000;
    this.deps.metrics.request(context.route ?? 'none', context.method, status, seconds);
    if (!this.deps.holder.current.settings.accessLog) return;
    this.accessLog.write(context, status, Math.round(seconds * 1e6), aborted);
  }
}

/** A response is being written on the connection (Node's own marker of the response that holds it). */
function busy(socket: Duplex): boolean {
  return (socket as { _httpMessage?: unknown })._httpMessage != null;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
