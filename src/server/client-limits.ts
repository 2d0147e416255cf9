// What a client connection is allowed, on every listener the process opens (the gateway's and the admin
// one): the strict parser, the header size, and the timeouts that cut slow clients (slowloris).
import type http from 'node:http';
import type { Settings } from '../config/settings.ts';

export function clientLimits(settings: Settings): http.ServerOptions {
  return {
    // Never the lenient parser: it is what request smuggling needs (CL+TE, obs-fold, bare LF).
    insecureHTTPParser: false,
    maxHeaderSize: settings.maxHeaderBytes,
    requestTimeout: settings.requestTimeoutMs,
    headersTimeout: settings.headersTimeoutMs,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(settings.headersTimeoutMs / 4))),
  };
}

/** The timeouts a reload may change on a listener already open (the header size is fixed at start). */
export function applyClientTimeouts(server: http.Server, settings: Settings): void {
  server.requestTimeout = settings.requestTimeoutMs;
  server.headersTimeout = settings.headersTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
}
