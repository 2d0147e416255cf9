// server: settings with defaults applied and units converted, as the runtime uses them.
import { availableParallelism } from 'node:os';
import { DEFAULTS, type ServerConfig } from './schema.ts';
import { parseDuration, parseSize } from './units.ts';

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly adminHost: string;
  readonly adminPort: number;
  readonly trustProxy: boolean | readonly string[];
  readonly timeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  /** Header lines a request may have (field lines, each repeated one counted). */
  readonly maxHeaders: number;
  readonly maxTokenBytes: number;
  readonly tokenCacheSize: number;
  readonly caseInsensitivePaths: boolean;
  readonly workers: number;
  readonly accessLog: boolean;
  readonly logLevel: string;
}

export function resolveSettings(server: ServerConfig = {}): Settings {
  const host = server.host ?? DEFAULTS.host;
  return {
    host,
    port: server.port ?? DEFAULTS.port,
    adminHost: server.admin_host ?? DEFAULTS.admin_host,
    adminPort: server.admin_port ?? DEFAULTS.admin_port,
    trustProxy: server.trust_proxy ?? false,
    timeoutMs: parseDuration(server.timeout ?? DEFAULTS.timeout),
    shutdownTimeoutMs: parseDuration(server.shutdown_timeout ?? DEFAULTS.shutdown_timeout),
    headersTimeoutMs: parseDuration(server.headers_timeout ?? DEFAULTS.headers_timeout),
    requestTimeoutMs: parseDuration(server.request_timeout ?? DEFAULTS.request_timeout),
    keepAliveTimeoutMs: parseDuration(server.keep_alive_timeout ?? DEFAULTS.keep_alive_timeout),
    maxHeaderBytes: parseSize(server.max_header_size ?? DEFAULTS.max_header_size),
    maxHeaders: server.max_headers ?? DEFAULTS.max_headers,
    maxTokenBytes: parseSize(server.max_token_size ?? DEFAULTS.max_token_size),
    tokenCacheSize: server.token_cache_size ?? DEFAULTS.token_cache_size,
    caseInsensitivePaths: server.case_insensitive_paths ?? false,
    workers: server.workers === 'auto' ? availableParallelism() : (server.workers ?? DEFAULTS.workers),
    accessLog: server.access_log ?? true,
    logLevel: server.log_level ?? DEFAULTS.log_level,
  };
}
