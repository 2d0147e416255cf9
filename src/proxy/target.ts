// One upstream target: its address, the undici pool that holds its keep-alive connections, and what the
// health checks (active, health.ts; passive, outlier.ts) have found out about it.
import { isIP, type Socket } from 'node:net';
import { buildConnector, errors, Pool } from 'undici';
import { PRECISE_TIMEOUT_MS } from './precise-timeout.ts';
import type { Attempt } from './forward.ts';

export interface TargetOptions {
  /** Connections to the target at once; further requests wait for a free one (queue_timeout). */
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  /** Forward the client's Host (true) or the target's own (false). */
  readonly preserveHost: boolean;
}

// Idle upstream connections are closed before common server keep-alive timeouts (Node's 5 s) would
// close them under us, which would turn the next request on that socket into a spurious 502.
const IDLE_SOCKET_MS = 4000;

export class UpstreamTarget {
  readonly url: string;
  /** host:port of the configured URL: the metric label and the access log's upstream_target. */
  readonly label: string;
  readonly hostname: string;
  readonly port: number;
  readonly https: boolean;
  /** The path of the target URL without its trailing "/": forwarded paths go under it. */
  readonly basePath: string;
  /** The Host sent when the client's is not (preserve_host: false), as the target URL writes it. */
  readonly ownHost: string;
  /**
   * The TLS server name (SNI, and the name the certificate must carry): the URL's host name, never the
   * client's Host (undici and node:https would otherwise take it from there); none for an IP address,
   * which RFC 6066 §3 does not allow as a server name (Node warns, DEP0123).
   */
  readonly sni: string | undefined;
  readonly maxConnections: number;
  readonly preserveHost: boolean;
  readonly pool: Pool;

  /** Requests dispatched to this target and not finished (least_request; whether a request must queue). */
  inFlight = 0;
  /** Requests waiting for a free connection (target-queue.ts). */
  readonly waiting: Attempt[] = [];
  /** Active checks' verdict: true until health_check says otherwise. */
  healthy = true;
  /** Passive checks: ejected until this time (ms since the epoch); 0 when not ejected. */
  ejectedUntil = 0;
  consecutiveFailures = 0;
  /** Ejections in a row, for the doubling of ejection_time. */
  ejections = 0;

  constructor(url: string, options: TargetOptions) {
    const parsed = new URL(url);
    this.url = url;
    this.https = parsed.protocol === 'https:';
    this.hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    this.port = parsed.port === '' ? (this.https ? 443 : 80) : Number(parsed.port);
    this.label = `${parsed.hostname}:${this.port}`;
    this.ownHost = parsed.host;
    const path = parsed.pathname;
    this.basePath = path.endsWith('/') ? path.slice(0, -1) : path;
    const sni = isIP(this.hostname) === 0 ? this.hostname : undefined;
    this.sni = sni;
    this.maxConnections = options.maxConnections;
    this.preserveHost = options.preserveHost;
    // undici derives the TLS server name from the Host header unless it is told one. With preserve_host,
    // that is the public name the client asked for, not the upstream's: the connector always names the
    // target's own host.
    const connector = buildConnector({ timeout: options.connectTimeoutMs, ...(sni !== undefined ? { servername: sni } : {}) });
    this.pool = new Pool(parsed.origin, {
      connections: options.maxConnections,
      pipelining: 1,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
      connect: (opts, callback) => {
        // The connector hands back the socket it opens (its types say void).
        const socket = connector({ ...opts, servername: sni ?? '' }, callback) as unknown as Socket;
        if (options.connectTimeoutMs < PRECISE_TIMEOUT_MS) enforceConnectTimeout(socket, options.connectTimeoutMs, this.https);
      },
      strictContentLength: true,
    });
  }

  /** The Host this target is sent: the client's with preserve_host (when it sent one), else its own. */
  hostFor(clientHost: string | undefined): string {
    return this.preserveHost && clientHost !== undefined ? clientHost : this.ownHost;
  }

  /** Whether the target may get requests now (healthy, and not ejected). */
  isUp(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now;
  }

  close(): void {
    void this.pool.destroy().catch(() => {});
  }
}

/**
 * undici checks its own connect timeout on a coarse clock (about every half second): a connect_timeout of
 * 200ms would fire after up to a second. A short one is kept to the millisecond with a timer of our own.
 */
function enforceConnectTimeout(socket: Socket, timeoutMs: number, tls: boolean): void {
  const timer = setTimeout(() => socket.destroy(new errors.ConnectTimeoutError(`connect timeout (${timeoutMs}ms)`)), timeoutMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  socket.once(tls ? 'secureConnect' : 'connect', done).once('close', done);
}
