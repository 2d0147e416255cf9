// The HTTP face of the pipeline: for each request, decide (pipeline/decide.ts), then either answer the
// denial or rewrite the headers and forward. Also the WebSocket handshake (same checks, then http-proxy's
// ws), and the access log line and metrics when the response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledConfig } from '../config/compile.ts';
import type { Decision, Denial, Forward } from '../pipeline/decision.ts';
import { decide, type Awaitable } from '../pipeline/decide.ts';
import { Forwarder, type UpstreamFailure } from '../proxy/forward.ts';
import { rewriteRequestHeaders } from '../proxy/headers.ts';
import { cleanResponseHeaders } from '../proxy/response-headers.ts';
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

/** nginx's code for "the client closed the connection before the response". */
const CLIENT_CLOSED = 499;
const ACTIVE = Symbol('portcullis.activeConfig');
type Tracked = ServerResponse & { [ACTIVE]?: ActiveConfig };

export class Gateway {
  private readonly forwarder: Forwarder;
  private readonly accessLog: AccessLog;

  constructor(private readonly deps: GatewayDeps) {
    this.accessLog = new AccessLog(deps.logger, deps.batchAccessLog !== false);
    this.forwarder = new Forwarder({
      onUpstreamError: (kind, req, target) => this.upstreamFailed(kind, req, target),
      onUpstreamResponse: cleanResponseHeaders,
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
        (settled) => this.apply(req, res, active.config, context, settled),
        (err: unknown) => this.internalError(res, context, err),
      );
    } else {
      this.apply(req, res, active.config, context, decision);
    }
  };

  /** node:http 'upgrade' listener: WebSocket handshakes pass the same checks as any request. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const active = this.deps.holder.acquire();
    const context = new RequestContext(requestIdOf(req), performance.now(), pathForLog(req.url));
    attachContext(req, context);
    socket.once('close', () => this.deps.holder.release(active));
    socket.on('error', () => socket.destroy());
    Promise.resolve(decide(active.config, req as IncomingMessage & { method: string; url: string })).then(
      (decision) => {
        if (decision.kind === 'deny') {
          this.note(context, decision);
          writeRawReply(socket, errorReply(context.id, decision));
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

  /** Write out what the access log still holds (at shutdown). */
  flushLog(): void {
    this.accessLog.flush();
  }

  /** Answer a denial or forward; a failure here is this request's 500, never the process's crash. */
  private apply(req: IncomingMessage, res: ServerResponse, config: CompiledConfig, context: RequestContext, decision: Decision): void {
    try {
      if (decision.kind === 'deny') this.refuse(res, context, decision);
      else this.forward(req, res, config, context, decision);
    } catch (err) {
      this.internalError(res, context, err);
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse, config: CompiledConfig, context: RequestContext, decision: Forward): void {
    this.note(context, decision);
    const route = decision.route;
    const expectsContinue = req.headers.expect?.toLowerCase() === '100-continue';
    if (route.maxBody !== null && !this.enforceBodyLimit(req, res, context, route.maxBody)) return;
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

  /** 413 for a declared Content-Length over the limit; a chunked body is counted as it streams. */
  private enforceBodyLimit(req: IncomingMessage, res: ServerResponse, context: RequestContext, limit: number): boolean {
    const declared = req.headers['content-length'];
    const tooLarge = (): Denial => ({ kind: 'deny', status: 413, code: 'body_too_large', message: `the request body is larger than ${limit} bytes` });
    if (declared !== undefined && Number(declared) > limit) {
      res.setHeader('connection', 'close');
      this.refuse(res, context, tooLarge());
      return false;
    }
    if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
      req.on('data', (chunk: Buffer) => {
        context.bodyBytes += chunk.length;
        if (context.bodyBytes <= limit || context.reason !== undefined) return;
        this.forwarder.abort(req);
        res.setHeader('connection', 'close');
        this.refuse(res, context, tooLarge());
        req.destroy();
      });
    }
    return true;
  }

  private refuse(res: ServerResponse, context: RequestContext, denial: Denial): void {
    this.note(context, denial);
    sendReply(res, errorReply(context.id, denial));
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

  private upstreamFailed(kind: UpstreamFailure, req: IncomingMessage, target: ServerResponse | Duplex): void {
    const context = contextOf(req);
    if (context === undefined) return;
    context.reason = kind === 'timeout' ? 'upstream_timeout' : 'upstream_unavailable';
    if (context.upstream !== undefined) this.deps.metrics.upstreamError(context.upstream, kind);
    const reply = errorReply(context.id, {
      status: kind === 'timeout' ? 504 : 502,
      code: context.reason,
      message: kind === 'timeout' ? 'the upstream did not answer in time' : 'the upstream could not be reached',
    });
    if ('writeHead' in target) sendReply(target, reply);
    else writeRawReply(target, reply);
  }

  private internalError(res: ServerResponse, context: RequestContext, err: unknown): void {
    this.deps.logger.error({ req_id: context.id, err: describeError(err) }, 'internal error while handling a request');
    context.reason = 'internal_error';
    sendReply(res, errorReply(context.id, { status: 500, code: 'internal_error', message: 'the gateway failed to handle the request' }));
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
      client: req.socket.remoteAddress,
      aborted,
    });
  }
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
