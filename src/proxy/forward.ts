// Forwarding through http-proxy: one proxy instance per upstream target, holding that target's options,
// so a request is proxied without copying or parsing any options; an upstream timeout that becomes a
// 504; the upstream request aborted when the client leaves.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { UpstreamTarget } from './upstream.ts';

export type UpstreamFailure = 'unavailable' | 'timeout';

export interface ForwardEvents {
  /** The upstream failed before or while answering; `target` is a ServerResponse or, for upgrades, a socket. */
  onUpstreamError(kind: UpstreamFailure, req: IncomingMessage, target: ServerResponse | Duplex): void;
  /** A response arrived; lets the caller adjust its headers before http-proxy copies them. */
  onUpstreamResponse?(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void;
}

const TIMEOUT_MS = Symbol('portcullis.upstreamTimeout');
const PROXY_REQUEST = Symbol('portcullis.proxyRequest');

type Tracked = IncomingMessage & { [TIMEOUT_MS]?: number; [PROXY_REQUEST]?: ClientRequest };

class UpstreamTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

export class Forwarder {
  // Keyed by target: a reload brings new targets, and the old ones' proxies go with them.
  private readonly proxies = new WeakMap<UpstreamTarget, httpProxy>();

  constructor(private readonly events: ForwardEvents) {}

  web(req: IncomingMessage, res: ServerResponse, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    this.proxyFor(target).web(req, res);
  }

  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    this.proxyFor(target).ws(req, socket, head);
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
      // http-proxy joins the target's path and ours, merging slashes and then turning "http:/" into
      // "http://": send exactly the normalized path the route was matched on, under the target's path.
      // (http-proxy emits proxyReq for every request without an Expect header, and Expect is hop-by-hop:
      // headers.ts removes it.)
      const base = basePath(target);
      proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
        proxyReq.path = base + req.url;
        onProxyRequest(proxyReq, req);
      });
      proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
        proxyReq.path = base + req.url;
        onProxyRequest(proxyReq, req);
        closeAfterRefusal(proxyReq, socket);
      });
      if (this.events.onUpstreamResponse) proxy.on('proxyRes', this.events.onUpstreamResponse);
      proxy.on('error', (err, req, res) => {
        const kind: UpstreamFailure = (err as { code?: string }).code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'unavailable';
        this.events.onUpstreamError(kind, req, res as ServerResponse | Duplex);
      });
      // The client went away mid-request: http-proxy has already aborted the upstream request.
      proxy.on('econnreset', () => {});
      this.proxies.set(target, proxy);
    }
    return proxy;
  }
}

/**
 * Runs as soon as the upstream request has a socket. The timeout counts from there to the response and
 * between any two chunks of it: an upstream that goes silent for that long is abandoned with a 504.
 */
function onProxyRequest(proxyReq: ClientRequest, req: IncomingMessage): void {
  const tracked = req as Tracked;
  tracked[PROXY_REQUEST] = proxyReq;
  const timeoutMs = tracked[TIMEOUT_MS] ?? 0;
  if (timeoutMs > 0) proxyReq.setTimeout(timeoutMs, abandonSlowUpstream);
}

function basePath(target: UpstreamTarget): string {
  const path = target.proxyOptions.target.pathname ?? '/';
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * When the upstream refuses a WebSocket handshake, http-proxy relays its answer and ends our side, but never
 * reads from the client again: a client that keeps sending is never seen to close, and its socket stays open
 * for good, outside every server timeout. Drain it so its close is noticed, and cut it after a grace period.
 */
function closeAfterRefusal(proxyReq: ClientRequest, socket: Duplex): void {
  proxyReq.once('response', (res: IncomingMessage) => {
    res.once('end', () => {
      socket.resume();
      const timer = setTimeout(() => socket.destroy(), 2000);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
  });
}

function abandonSlowUpstream(this: ClientRequest): void {
  this.destroy(new UpstreamTimeoutError('upstream timed out'));
}
