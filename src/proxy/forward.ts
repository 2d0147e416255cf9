// Forwarding through http-proxy: one proxy instance per upstream target, holding that target's options,
// so a request is proxied without copying or parsing any options; an upstream timeout that becomes a
// 504; the upstream request aborted when the client leaves.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { UpstreamTarget } from './upstream.ts';

/**
 * unavailable: no response (refused, reset, TLS failure); timeout: silent for too long (before or during the
 * response); reset: the upstream's connection broke in the middle of its response.
 */
export type UpstreamFailure = 'unavailable' | 'timeout' | 'reset';

export interface ForwardEvents {
  /**
   * The upstream failed before or while answering; `target` is a ServerResponse or, for upgrades, a socket.
   * `cause` is the system error code (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID...) when there is one.
   */
  onUpstreamError(kind: UpstreamFailure, req: IncomingMessage, target: ServerResponse | Duplex, cause?: string): void;
  /** A response arrived; lets the caller adjust its headers before http-proxy copies them. */
  onUpstreamResponse?(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void;
}

const TIMEOUT_MS = Symbol('portcullis.upstreamTimeout');
const PROXY_REQUEST = Symbol('portcullis.proxyRequest');
const UPSTREAM_PATH = Symbol('portcullis.upstreamPath');

type Tracked = IncomingMessage & { [TIMEOUT_MS]?: number; [PROXY_REQUEST]?: ClientRequest; [UPSTREAM_PATH]?: string };

class UpstreamTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

export class Forwarder {
  // Keyed by target: a reload brings new targets, and the old ones' proxies go with them.
  private readonly proxies = new WeakMap<UpstreamTarget, httpProxy>();

  constructor(private readonly events: ForwardEvents) {}

  web(req: IncomingMessage, res: ServerResponse, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    const proxy = this.proxyFor(target);
    handOverPath(target, req);
    try {
      proxy.web(req, res);
    } finally {
      target.proxyOptions.agent.nextPath = undefined; // never left for another request, whatever happened
    }
  }

  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    const proxy = this.proxyFor(target);
    handOverPath(target, req);
    try {
      proxy.ws(req, socket, head);
    } finally {
      target.proxyOptions.agent.nextPath = undefined;
    }
  }

  /** Abandon the upstream request of `req` (the client went away, or sent too much). */
  abort(req: IncomingMessage): void {
    (req as Tracked)[PROXY_REQUEST]?.destroy();
  }

  private proxyFor(target: UpstreamTarget): httpProxy {
    let proxy = this.proxies.get(target);
    if (proxy === undefined) {
      proxy = httpProxy.createProxyServer(target.proxyOptions);
      // http-proxy's deleteLength pass gives a DELETE or OPTIONS without Content-Length a "Content-Length: 0"
      // and deletes its Transfer-Encoding, then streams the body anyway: the upstream reads a chunked body
      // as a second request that no check has seen (request smuggling). Without it, Node frames them itself.
      const passes = (proxy as unknown as { webPasses: { name: string }[] }).webPasses;
      const deleteLength = passes.findIndex((pass) => pass.name === 'deleteLength');
      if (deleteLength !== -1) passes.splice(deleteLength, 1);
      // (http-proxy emits proxyReq for every request without an Expect header, and Expect is hop-by-hop:
      // headers.ts removes it.)
      proxy.on('proxyReq', onProxyRequest);
      proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
        onProxyRequest(proxyReq, req);
        closeAfterRefusal(proxyReq, socket);
        closeWithClient(proxyReq, socket);
      });
      proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
        this.events.onUpstreamResponse?.(proxyRes, req, res);
        // http-proxy pipes the upstream's response to the client and never tells the client when it breaks
        // off: the client would wait for the rest for ever, holding a 200. Cut the client's response too.
        proxyRes.on('close', () => {
          if (!proxyRes.complete && !res.destroyed) this.events.onUpstreamError('reset', req, res);
        });
      });
      proxy.on('error', (err, req, res) => {
        const code = (err as { code?: string }).code;
        const kind: UpstreamFailure = code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'unavailable';
        this.events.onUpstreamError(kind, req, res as ServerResponse | Duplex, code);
      });
      // The client went away mid-request: http-proxy has already aborted the upstream request.
      proxy.on('econnreset', () => {});
      this.proxies.set(target, proxy);
    }
    return proxy;
  }
}

/**
 * The upstream request gets exactly the normalized path the route was matched on (req.url), under the
 * target's own path: handed to the target's agent, which sets it as http-proxy creates the request
 * (upstream.ts says why it can not be later). http-proxy creates it synchronously inside web()/ws(), and
 * the caller takes the path back from the agent right after.
 */
function handOverPath(target: UpstreamTarget, req: IncomingMessage): void {
  const path = target.basePath + req.url;
  (req as Tracked)[UPSTREAM_PATH] = path;
  target.proxyOptions.agent.nextPath = path;
}

/**
 * Runs as soon as the upstream request has a socket. The timeout counts from there to the response and
 * between any two chunks of it: an upstream that goes silent for that long is abandoned with a 504.
 */
function onProxyRequest(proxyReq: ClientRequest, req: IncomingMessage): void {
  const tracked = req as Tracked;
  tracked[PROXY_REQUEST] = proxyReq;
  // Fail closed: a request on its way to any other path than the one the route was matched on is not sent.
  if (proxyReq.path !== tracked[UPSTREAM_PATH]) {
    proxyReq.destroy(new Error('the upstream request path is not the one the route was matched on'));
    return;
  }
  const timeoutMs = tracked[TIMEOUT_MS] ?? 0;
  if (timeoutMs > 0) proxyReq.setTimeout(timeoutMs, abandonSlowUpstream);
}

/**
 * When the upstream refuses a WebSocket handshake, http-proxy relays its answer and ends our side, but never
 * reads from the client again: a client that keeps sending is never seen to close, and its socket stays open
 * for good, outside every server timeout. Drain it so its close is noticed, and cut it after a grace period.
 * The upstream connection is closed too, never handed back to the keep-alive pool: whatever else the
 * handshake made the upstream expect must not become part of another client's request.
 */
function closeAfterRefusal(proxyReq: ClientRequest, socket: Duplex): void {
  proxyReq.once('response', (res: IncomingMessage) => {
    proxyReq.shouldKeepAlive = false;
    res.once('end', () => {
      socket.resume();
      const timer = setTimeout(() => socket.destroy(), 2000);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
  });
}

/**
 * http-proxy closes the upstream side of a tunnel when the client's side ends or errs, but not when it is
 * destroyed (by the shutdown deadline, or a network failure): the upstream connection would stay open,
 * and with it the process. Whatever ends the client's side ends the upstream's.
 */
function closeWithClient(proxyReq: ClientRequest, socket: Duplex): void {
  proxyReq.once('upgrade', (_res: IncomingMessage, proxySocket: Duplex) => {
    if (socket.destroyed) proxySocket.destroy();
    else socket.once('close', () => proxySocket.destroy());
  });
}

function abandonSlowUpstream(this: ClientRequest): void {
  this.destroy(new UpstreamTimeoutError('upstream timed out'));
}
