// Upstream pools: the targets of one upstream, each with its own keep-alive agent, taken in turn.
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { parse as parseUrl, type UrlWithStringQuery } from 'node:url';
import type { ServerOptions } from 'http-proxy';

export interface UpstreamTarget {
  readonly url: string;
  /** The path of the target URL without its trailing "/": forwarded paths go under it. */
  readonly basePath: string;
  /** Options handed to http-proxy for every request to this target: built once, never per request. */
  readonly proxyOptions: ServerOptions & { target: UrlWithStringQuery; agent: PathSettingAgent };
}

/** What a keep-alive agent of ours adds to Node's: it can give the next request it is handed its path. */
export interface PathSettingAgent extends http.Agent {
  /**
   * The path of the upstream request about to be created (forward.ts sets it right before http-proxy
   * creates the request, synchronously, and clears it right after).
   */
  nextPath: string | undefined;
}

/**
 * http-proxy builds the upstream path by joining the target's path and the request URL with a function that
 * merges slashes and turns "http:/" into "http://", so the gateway sets the path itself. It must be set
 * before Node writes the request line: when every connection to the target is busy, the request waits in
 * the agent's queue and its head is written before http-proxy's "proxyReq" event, so a path set there would
 * be ignored and the request would go to the target's base path instead. Node hands every request to its
 * agent's addRequest() while creating it, before anything is written, queued or not: the path is set there.
 */
function withPathSetting<T extends http.Agent>(agent: T): T & PathSettingAgent {
  const withPath = agent as T & PathSettingAgent & { addRequest(req: ClientRequest, options: object): void };
  const addRequest = withPath.addRequest;
  withPath.nextPath = undefined;
  withPath.addRequest = function (this: typeof withPath, req: ClientRequest, options: object) {
    if (this.nextPath !== undefined) req.path = this.nextPath;
    this.nextPath = undefined;
    addRequest.call(this, req, options);
  };
  return withPath;
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
    for (const t of this.targets) t.proxyOptions.agent.destroy();
  }
}

/** `maxConnections`: connections to the target at once; further requests wait in the agent's queue. */
export function createTarget(url: string, preserveHost: boolean, maxConnections: number): UpstreamTarget {
  const target = parseUrl(url);
  const pooling: http.AgentOptions = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: maxConnections,
    maxFreeSockets: 256,
    scheduling: 'lifo',
    timeout: IDLE_SOCKET_MS,
  };
  // Node takes the TLS server name (SNI) and the name the certificate must carry from the Host header
  // when there is one. With the client's Host forwarded (preserve_host), that would be the public name the
  // client asked for, not the upstream's: pin both to the host of the target URL (none for an IP address).
  const hostname = target.hostname ?? '';
  const agent = withPathSetting(
    target.protocol === 'https:'
      ? new https.Agent({ ...pooling, servername: isIP(hostname) === 0 ? hostname : '' })
      : new http.Agent(pooling),
  );
  const path = target.pathname ?? '/';
  return {
    url,
    basePath: path.endsWith('/') ? path.slice(0, -1) : path,
    // The request path is set by forward.ts (the target's path + the normalized path), so http-proxy is
    // told not to compute one: toProxy spares it a url.parse of the request URL, ignorePath the join.
    proxyOptions: { target, agent, toProxy: true, ignorePath: true, ...(preserveHost ? {} : { changeOrigin: true }) },
  };
}
