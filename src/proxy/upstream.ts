// Upstream pools: the targets of one upstream, each with its own keep-alive agent, taken in turn.
import http from 'node:http';
import https from 'node:https';
import { parse as parseUrl, type UrlWithStringQuery } from 'node:url';
import type { ServerOptions } from 'http-proxy';

export interface UpstreamTarget {
  readonly url: string;
  /** Options handed to http-proxy for every request to this target: built once, never per request. */
  readonly proxyOptions: ServerOptions & { target: UrlWithStringQuery };
}

// Idle upstream connections are closed before common server keep-alive timeouts (Node's 5 s) would
// close them under us, which would turn the next request on that socket into a spurious 502.
const IDLE_SOCKET_MS = 4000;

export class UpstreamPool {
  private nextIndex = 0;

  constructor(
    readonly name: string,
    readonly targets: readonly UpstreamTarget[],
    readonly timeoutMs: number,
  ) {}

  pick(): UpstreamTarget {
    if (this.targets.length === 1) return this.targets[0]!;
    const target = this.targets[this.nextIndex]!;
    this.nextIndex = (this.nextIndex + 1) % this.targets.length;
    return target;
  }

  /** Close idle upstream connections; used once no request can use this pool any more. */
  close(): void {
    for (const t of this.targets) (t.proxyOptions.agent as http.Agent | undefined)?.destroy();
  }
}

export function createTarget(url: string, preserveHost: boolean): UpstreamTarget {
  const target = parseUrl(url);
  const Agent = target.protocol === 'https:' ? https.Agent : http.Agent;
  const agent = new Agent({
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: 1024,
    maxFreeSockets: 256,
    scheduling: 'lifo',
    timeout: IDLE_SOCKET_MS,
  });
  return {
    url,
    // The request path is set by forward.ts (the target's path + the normalized path), so http-proxy is
    // told not to compute one: toProxy spares it a url.parse of the request URL, ignorePath the join.
    proxyOptions: { target, agent, toProxy: true, ignorePath: true, ...(preserveHost ? {} : { changeOrigin: true }) },
  };
}
