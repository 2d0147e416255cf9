// The HTTP face of the pipeline: for each request, decide (pipeline/decide.ts), admit (traffic/admit.ts:
// rate limits), then answer the denial or the CORS preflight, or rewrite the headers and forward. Also the
// WebSocket handshake (same checks, then http-proxy's ws), and the access log line and metrics when the
// response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledConfig } from '../config/compile.ts';
import { deny, type Decision, type Denial, type Forward, type Preflight } from '../pipeline/decision.ts';
import { decide, type Awaitable } from '../pipeline/decide.ts';
import { Forwarder, type UpstreamFailure } from '../proxy/forward.ts';
import { rewriteRequestHeaders } from '../proxy/headers.ts';
import { cleanResponseHeaders } from '../proxy/response-headers.ts';
import { admit } from '../traffic/admit.ts';
import { applyTrafficHeaders } from '../traffic/response-headers.ts';
import type { ConfigHolder, ActiveConfig } from './config-holder.ts';
import { AccessLog } from './access-log.ts';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import { attachContext, contextOf, pathForLog, RequestContext, requestIdOf } from './request-context.ts';
import { errorReply, sendReply, writeRawReply } from './respond.ts';

export interface GatewayDeps {
  readonly holder: ConfigHolder;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Batch access-log lines (false when a test reads the log right after each request). */
  readonly batchAccessLog?: boolean;
}

const UPSTREAM_FAILURES: Record<UpstreamFailure, { status: number; code: string; message: string }> = {
  unavailable: { status: 502, code: 'upstream_unavailable', message: 'the upstream could not be reached' },
  timeout: { status: 504, code: 'upstream_timeout', message: 'the upstream did not answer in time' },
  reset: { status: 502, code: 'upstream_reset', message: 'the upstream broke off its response' },
};

/** nginx's code for "the client closed the connection before the response". */
const CLIENT_CLOSED = 499;
const ACTIVE = Symbol('portcullis.activeConfig');
type Tracked = ServerResponse & { [ACTIVE]?: ActiveConfig };

export class Gateway {
  private readonly forwarder: Forwarder;
  private readonly accessLog: AccessLog;
  /** Upgraded (WebSocket) connections: the HTTP server no longer sees them, so shutdown must reach them here. */
  private readonly upgraded = new Set<Duplex>();
  private draining = false;

  constructor(private readonly deps: GatewayDeps) {
    this.accessLog = new AccessLog(deps.logger, deps.batchAccessLog !== false);
    this.forwarder = new Forwarder({
      onUpstreamError: (kind, req, target, cause) => this.upstreamFailed(kind, req, target, cause),
      onUpstreamResponse: (proxyRes, req, res) => {
        // Checked as the response goes out, so it covers requests that were in flight when draining began.
        if (this.draining) res.shouldKeepAlive = false;
        cleanResponseHeaders(proxyRes, req, res);
        const context = contextOf(req);
        if (context !== undefined) applyTrafficHeaders(proxyRes.headers, context);
      },
    });
    const gateway = this;
    // One listener function for every response: EventEmitter hands it the response as `this`.
    this.finished = function (this: ServerResponse) {
      gateway.responseClosed(this);
    };
  }

  /** node:http 'request' listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const active = this.deps.holder.acquire();
    const context = new RequestContext(requestIdOf(req), performance.now(), pathForLog(req.url));
    attachContext(req, context);
    (res as Tracked)[ACTIVE] = active;
    res.setHeader('x-request-id', context.id);
    // While draining, every response says "Connection: close": a client that reused the connection for its
    // next request would have it cut under it.
    if (this.draining) res.shouldKeepAlive = false;
    this.deps.metrics.inFlight++;
    res.on('close', this.finished); // 'close' comes once; on() spares the wrapper once() allocates
    let decision: Awaitable<Decision>;
    try {
      decision = decide(active.config, req as IncomingMessage & { method: string; url: string });
    } catch (err) {
      return this.internalError(res, context, err);
    }
    if (decision instanceof Promise) {
      decision.then(
        (settled) => this.admit(req, res, active.config, context, settled),
        (err: unknown) => this.internalError(res, context, err),
      );
    } else {
      this.admit(req, res, active.config, context, decision);
    }
  };

  /** node:http 'upgrade' listener: WebSocket handshakes pass the same checks as any request. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const active = this.deps.holder.acquire();
    const context = new RequestContext(requestIdOf(req), performance.now(), pathForLog(req.url));
    attachContext(req, context);
    this.upgraded.add(socket);
    socket.once('close', () => {
      this.upgraded.delete(socket);
      this.deps.holder.release(active);
    });
    socket.on('error', () => socket.destroy());
    const bodyProblem = upgradeBodyProblem(req);
    if (bodyProblem !== undefined) {
      this.note(context, bodyProblem);
      writeRawReply(socket, errorReply(context.id, bodyProblem));
      this.log(req, context, bodyProblem.status);
      return;
    }
    Promise.resolve(decide(active.config, req as IncomingMessage & { method: string; url: string }))
      .then((decided) => admit(active.config, decided, req, context))
      .then(
        (decision) => {
          if (decision.kind === 'preflight') {
            // A handshake is a GET: an OPTIONS preflight never upgrades. Refused like any request that can not.
            decision = deny(400, 'bad_request', 'a CORS preflight can not upgrade the connection', { route: decision.route });
          }
          if (decision.kind === 'deny') {
            this.note(context, decision);
            writeRawReply(socket, errorReply(context.id, decision, context));
            this.log(req, context, decision.status);
            return;
          }
          this.note(context, decision);
          rewriteRequestHeaders(req.headers, active.config.forward, decision.identity, {
            requestId: context.id,
            remoteAddress: req.socket.remoteAddress ?? '',
            host: req.headers.host,
            encrypted: false,
            upgrade: true,
          });
          req.url = decision.upstreamPath;
          this.forwarder.ws(req, socket, head, decision.route.upstream.pick(), decision.route.timeoutMs);
          this.log(req, context, 101);
        },
        () => socket.destroy(),
      );
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

  /** Count the request against its route's rate limits (traffic/admit.ts), then apply what is decided. */
  private admit(req: IncomingMessage, res: ServerResponse, config: CompiledConfig, context: RequestContext, decision: Decision): void {
    let admitted: Awaitable<Decision>;
    try {
      admitted = admit(config, decision, req, context);
    } catch (err) {
      return this.internalError(res, context, err);
    }
    if (admitted instanceof Promise) {
      admitted.then(
        (settled) => this.apply(req, res, config, context, settled),
        (err: unknown) => this.internalError(res, context, err),
      );
    } else {
      this.apply(req, res, config, context, admitted);
    }
  }

  /** Answer a denial or a preflight, or forward; a failure here is this request's 500, never the process's crash. */
  private apply(req: IncomingMessage, res: ServerResponse, config: CompiledConfig, context: RequestContext, decision: Decision): void {
    try {
      if (decision.kind === 'deny') this.refuse(res, context, decision);
      else if (decision.kind === 'preflight') this.answerPreflight(res, context, decision);
      else this.forward(req, res, config, context, decision);
    } catch (err) {
      this.internalError(res, context, err);
    }
  }

  /** 204 with the allow headers, or 403 without them (the browser then blocks the request it meant to send). */
  private answerPreflight(res: ServerResponse, context: RequestContext, preflight: Preflight): void {
    context.route = preflight.route.name;
    const { verdict } = preflight;
    if (!verdict.allowed) {
      context.reason = verdict.code;
      sendReply(res, errorReply(context.id, { status: 403, code: verdict.code!, message: verdict.message! }));
      return;
    }
    const headers: Record<string, string> = { 'x-request-id': context.id };
    preflight.cors.preflightHeaders(preflight.origin, headers);
    res.writeHead(204, headers);
    res.end();
  }

  private forward(req: IncomingMessage, res: ServerResponse, config: CompiledConfig, context: RequestContext, decision: Forward): void {
    this.note(context, decision);
    const route = decision.route;
    const expectsContinue = req.headers.expect?.toLowerCase() === '100-continue';
    if (route.maxBody !== null && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) {
      this.countChunkedBody(req, res, context, route.maxBody);
    }
    rewriteRequestHeaders(req.headers, config.forward, decision.identity, {
      requestId: context.id,
      remoteAddress: req.socket.remoteAddress ?? '',
      host: req.headers.host,
      encrypted: false,
      upgrade: false,
    });
    req.url = decision.upstreamPath;
    // "Expect: 100-continue" is answered here, only once the request is allowed: a client about to send
    // a large body to a route it may not use is refused before it sends it.
    if (expectsContinue) res.writeContinue();
    this.forwarder.web(req, res, route.upstream.pick(), route.timeoutMs);
  }

  /** A chunked body declares no length (decide() has checked a declared one): count it as it streams. */
  private countChunkedBody(req: IncomingMessage, res: ServerResponse, context: RequestContext, limit: number): void {
    req.on('data', (chunk: Buffer) => {
      context.bodyBytes += chunk.length;
      if (context.bodyBytes <= limit || context.reason !== undefined) return;
      this.forwarder.abort(req);
      this.refuse(res, context, { kind: 'deny', status: 413, code: 'body_too_large', message: `the request body is larger than ${limit} bytes` });
      req.destroy();
    });
  }

  private refuse(res: ServerResponse, context: RequestContext, denial: Denial): void {
    this.note(context, denial);
    // The body was refused unread: the connection can not carry another request after it.
    if (denial.status === 413) res.setHeader('connection', 'close');
    sendReply(res, errorReply(context.id, denial, context));
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

  private upstreamFailed(kind: UpstreamFailure, req: IncomingMessage, target: ServerResponse | Duplex, cause?: string): void {
    const context = contextOf(req);
    if (context === undefined) return;
    const failure = UPSTREAM_FAILURES[kind];
    context.reason = failure.code;
    context.upstreamError = cause;
    if (context.upstream !== undefined) this.deps.metrics.upstreamError(context.upstream, kind);
    const reply = errorReply(context.id, failure, context);
    // Once the upstream's status line has gone out, the only honest signal left is to cut the connection.
    if ('writeHead' in target) sendReply(target, reply);
    else writeRawReply(target, reply);
  }

  private internalError(res: ServerResponse, context: RequestContext, err: unknown): void {
    this.deps.logger.error({ req_id: context.id, err: describeError(err) }, 'internal error while handling a request');
    context.reason = 'internal_error';
    sendReply(res, errorReply(context.id, { status: 500, code: 'internal_error', message: 'the gateway failed to handle the request' }, context));
  }

  private readonly finished: (this: ServerResponse) => void;

  /** 'close' of every response: the access log line, the metrics, the client-gone abort. */
  private responseClosed(res: ServerResponse): void {
    const req = res.req;
    const context = contextOf(req)!;
    const completed = res.writableFinished;
    // The client went away before the response was complete: stop the upstream work too.
    if (!completed) this.forwarder.abort(req);
    this.deps.metrics.inFlight--;
    this.log(req, context, completed || res.headersSent ? res.statusCode : CLIENT_CLOSED, !completed);
    const active = (res as Tracked)[ACTIVE];
    if (active !== undefined) this.deps.holder.release(active);
  }

  private log(req: IncomingMessage, context: RequestContext, status: number, aborted = false): void {
    const seconds = (performance.now() - context.startedAt) / 1000;
    this.deps.metrics.request(context.route ?? 'none', req.method ?? 'OTHER', status, seconds);
    if (!this.deps.holder.current.settings.accessLog) return;
    this.accessLog.write({
      requestId: context.id,
      method: req.method,
      path: context.path,
      route: context.route,
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      upstream: context.upstream,
      subject: context.subject,
      reason: context.reason,
      upstreamError: context.upstreamError,
      client: req.socket.remoteAddress,
      aborted,
    });
  }
}

/**
 * A handshake carries no body (RFC 6455 §4.1). Node hands any body bytes to the upgrade handler unparsed,
 * so the upstream would be told "Content-Length: N" and then read the client's next request as those N
 * bytes: an upstream that refuses the upgrade answers, and the rest of what it reads is a request no
 * check has seen (request smuggling).
 */
function upgradeBodyProblem(req: IncomingMessage): Denial | undefined {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return undefined;
  return deny(400, 'upgrade_with_body', 'a WebSocket handshake must not carry a body');
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
