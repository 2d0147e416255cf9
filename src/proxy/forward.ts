// Forwarding through http-proxy: one proxy instance per process, per-target options built at compile
// time, an upstream timeout that becomes a 504, and the upstream request aborted when the client leaves.
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
  private readonly proxy = httpProxy.createProxyServer({ xfwd: false });

  constructor(private readonly events: ForwardEvents) {
    this.proxy.on('proxyReq', onProxyRequest);
    this.proxy.on('proxyReqWs', onProxyRequest);
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.events.onUpstreamResponse?.(proxyRes, req, res));
    this.proxy.on('error', (err, req, target) => {
      const kind: UpstreamFailure = (err as { code?: string }).code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'unavailable';
      this.events.onUpstreamError(kind, req, target as ServerResponse | Duplex);
    });
    // The client went away mid-request: http-proxy has already aborted the upstream request.
    this.proxy.on('econnreset', () => {});
  }

  web(req: IncomingMessage, res: ServerResponse, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    this.proxy.web(req, res, target.proxyOptions);
  }

  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpstreamTarget, timeoutMs: number): void {
    (req as Tracked)[TIMEOUT_MS] = timeoutMs;
    this.proxy.ws(req, socket, head, target.proxyOptions);
  }

  /** Abandon the upstream request of `req` (the client went away, or sent too much). */
  abort(req: IncomingMessage): void {
    (req as Tracked)[PROXY_REQUEST]?.destroy();
  }

  close(): void {
    this.proxy.close();
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

function abandonSlowUpstream(this: ClientRequest): void {
  this.destroy(new UpstreamTimeoutError('upstream timed out'));
}
