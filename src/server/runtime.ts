// A running gateway: the gateway and admin listeners, the config in force and its reloads, and a
// graceful close. The CLI, the cluster workers and the end-to-end tests all start it through here.
import http from 'node:http';
import { compileConfig, type CompiledConfig } from '../config/compile.ts';
import { loadConfigFile, loadConfigOrThrow, loadConfigText, type LoadedConfig } from '../config/load.ts';
import { defaultSecretProblems, defaultSecretsAllowed } from '../config/default-secrets.ts';
import { ConfigError, formatProblem } from '../config/problems.ts';
import { createAdminServer } from './admin.ts';
import { ConfigHolder } from './config-holder.ts';
import { Gateway } from './gateway.ts';
import { applyClientTimeouts, clientLimits } from './client-limits.ts';
import { createLogger, type Logger } from './logger.ts';
import { GatewayMetrics } from './metrics.ts';
import { readinessOf, type Readiness } from './readiness.ts';
import { announceConfig, jwksEventsFor, trafficEventsFor, upstreamEventsFor, warnAboutRestartOnlySettings } from './runtime-events.ts';
import { watchFile, type ConfigWatcher } from '../config/watch.ts';
import type { Settings } from '../config/settings.ts';
import type { LimitStore } from '../traffic/limit-store.ts';

export interface StartOptions {
  readonly configFile: string;
  /** The config already loaded from configFile (the CLI reads it first to choose single or cluster mode). */
  readonly loaded?: LoadedConfig;
  /** Count reloads in this process's metrics (default true; cluster workers leave it to the primary). */
  readonly countReloads?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** Defaults to JSON lines on stdout at the config's log level. */
  readonly logger?: Logger;
  /** Reload when the file changes (default true). SIGHUP is wired by the CLI. */
  readonly watch?: boolean;
  /** Serve /healthz, /readyz, /metrics on server.admin_port (default true; cluster workers leave it to the primary). */
  readonly admin?: boolean;
  /** Override server.port / server.admin_port (the CLI's --port, the tests' 0). */
  readonly port?: number;
  readonly adminPort?: number;
  /**
   * Serve with a provider secret that is the ${VAR:-fallback} written in the file (the demo; also
   * PORTCULLIS_ALLOW_DEFAULT_SECRETS=1 in `env`). Otherwise such a config is refused, at start and reload.
   */
  readonly allowDefaultSecrets?: boolean;
  /** Where `rate_limit_store: memory` counts: this process by default (a cluster worker passes the primary's). */
  readonly memoryLimitStore?: LimitStore;
}

export interface RunningGateway {
  readonly port: number;
  readonly adminPort: number | undefined;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly holder: ConfigHolder;
  readiness(): Readiness;
  /**
   * Re-read the config file (or use `text`, already read from it); false, and the old config kept,
   * when it is invalid.
   */
  reload(trigger?: string, text?: string): Promise<boolean>;
  /** Stop accepting, let in-flight requests finish (up to shutdown_timeout), then close everything. */
  close(): Promise<void>;
}

/** Time a reload waits for a new JWKS provider's first keys before switching over anyway. */
const NEW_KEYS_WAIT_MS = 5000;

export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const env = options.env ?? process.env;
  const loaded = options.loaded ?? loadConfigOrThrow(options.configFile, env);
  const allowDefaultSecrets = defaultSecretsAllowed(env, options.allowDefaultSecrets);
  const refused = allowDefaultSecrets ? [] : defaultSecretProblems(loaded);
  if (refused.length > 0) throw new ConfigError(refused);
  const initialLevel = loaded.config.server?.log_level ?? 'info';
  const logger = options.logger ?? createLogger(initialLevel);
  let holder: ConfigHolder | undefined;
  const metrics = new GatewayMetrics({ reloads: options.countReloads !== false, tokenCache: () => holder!.current.verifier.cache, configsRetained: () => holder?.retained ?? 0, upstreams: () => holder?.current.upstreams.values() ?? [] });
  const jwksEvents = jwksEventsFor(logger, metrics);
  const upstreamEvents = upstreamEventsFor(logger, metrics);

  // The failure mode the outage warning names: the newest config's, from the moment it is compiled (its
  // store connects before it is in force).
  let limitFailure: 'open' | 'closed' = 'open';
  const trafficEvents = trafficEventsFor(logger, metrics, () => limitFailure);
  const compileOptions = { jwksEvents, upstreamEvents, trafficEvents, ...(options.memoryLimitStore ? { memoryLimitStore: options.memoryLimitStore } : {}) };
  const first = await compileConfig(loaded, compileOptions);
  limitFailure = first.rateLimiting.failure;
  await first.rateLimiting.store.start(first.rateLimiting.timeoutMs);
  const settings = withOverrides(first.settings, options);
  holder = new ConfigHolder(first);
  announceConfig(logger, first);

  const gateway = new Gateway({ holder, logger, metrics, batchAccessLog: options.logger === undefined });
  const server = http.createServer(serverOptions(settings), gateway.handle);
  // Node keeps only the first 2000 header lines in req.headers by default, yet frames the body by a
  // Content-Length or Transfer-Encoding that comes after them: the gateway would forward a body-less
  // request and its body raw after it, as a second request no check has seen. The gateway sees every
  // line (max_header_size bounds them) and refuses more than server.max_headers itself (pipeline/decide.ts).
  server.maxHeadersCount = 0;
  server.on('upgrade', gateway.handleUpgrade);
  // With a listener here, Node no longer answers "100 Continue" before the gateway has decided.
  server.on('checkContinue', gateway.handle);
  server.on('clientError', gateway.handleClientError);

  let draining = false;
  const readiness = () => readinessOf(holder!.current, draining);
  const admin =
    options.admin === false
      ? undefined
      : createAdminServer({ readiness, metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }) }, settings);
  try {
    await listen(server, settings.port, settings.host);
    if (admin !== undefined) await listen(admin, settings.adminPort, settings.adminHost);
  } catch (err) {
    // A start that failed (a port in use) leaves nothing behind: a listening gateway port or a Redis
    // connection would keep the process running, serving without its admin port or doing nothing, after
    // it has said it could not start, and a supervisor would never see it exit.
    for (const listener of [server, admin]) if (listener?.listening) listener.close();
    first.close();
    throw err;
  }
  const port = (server.address() as { port: number }).port;
  const adminPort = admin === undefined ? undefined : (admin.address() as { port: number }).port;
  first.verifier.providers.start();
  for (const upstream of first.upstreams.values()) upstream.start();

  let reloading = Promise.resolve(true);
  /** A config a reload has compiled and not yet put in force: a shutdown meanwhile closes it. */
  let pending: CompiledConfig | undefined;
  const reload = (trigger = 'manual', text?: string): Promise<boolean> => {
    // Whatever goes wrong in a reload, the last good config keeps serving: a reload never takes the process down.
    reloading = reloading.then(() =>
      reloadOnce(trigger, text).catch((err: unknown) => {
        metrics.reload(false);
        logger.error({ trigger, error: err instanceof Error ? err.message : String(err) }, 'config reload refused; the last good config keeps serving');
        return false;
      }),
    );
    return reloading;
  };
  const reloadOnce = async (trigger: string, text: string | undefined): Promise<boolean> => {
    const result = text === undefined ? loadConfigFile(options.configFile, env) : loadConfigText(options.configFile, text, env);
    const problems = result.ok ? (allowDefaultSecrets ? [] : defaultSecretProblems(result.loaded)) : result.problems;
    if (!result.ok || problems.length > 0) {
      metrics.reload(false);
      logger.error({ trigger, problems: problems.map(formatProblem) }, 'config reload refused; the last good config keeps serving');
      return false;
    }
    let next: CompiledConfig;
    try {
      next = await compileConfig(result.loaded, { ...compileOptions, previous: holder!.current });
    } catch (err) {
      metrics.reload(false);
      logger.error({ trigger, error: err instanceof Error ? err.message : String(err) }, 'config reload refused; the last good config keeps serving');
      return false;
    }
    // A shutdown that began meanwhile wins: a config put in force after it would never be closed, and its
    // Redis connection, health checks and key fetches would keep the stopped process alive for ever.
    if (draining) {
      next.close(holder!.current);
      return false;
    }
    limitFailure = next.rateLimiting.failure;
    pending = next;
    await Promise.all([firstKeys(next, NEW_KEYS_WAIT_MS), next.rateLimiting.store.start(next.rateLimiting.timeoutMs)]);
    pending = undefined;
    if (draining) return false; // close() has closed it
    warnAboutRestartOnlySettings(logger, holder!.current.settings, next.settings);
    applyClientTimeouts(server, next.settings);
    if (admin !== undefined) applyClientTimeouts(admin, next.settings);
    logger.level = result.loaded.config.server?.log_level ?? 'info';
    for (const upstream of next.upstreams.values()) upstream.start();
    holder!.replace(next);
    // Key sources new to this config that were ready at once (a jwks_file) start watching now; the
    // ones carried over are already running.
    next.verifier.providers.start();
    metrics.reload(true);
    announceConfig(logger, next, trigger);
    return true;
  };

  const watcher: ConfigWatcher | undefined =
    options.watch === false ? undefined : watchFile(options.configFile, () => void reload('file changed'));

  logger.info({ port, admin_port: adminPort, host: settings.host, config: options.configFile }, 'portcullis listening');

  const close = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    watcher?.close();
    pending?.close(holder!.current);
    const deadline = holder!.current.settings.shutdownTimeoutMs;
    gateway.drain();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const drainTimer = setInterval(() => server.closeIdleConnections(), 100);
    const timer = setTimeout(() => {
      server.closeAllConnections();
      gateway.closeUpgraded();
    }, deadline);
    await closed;
    clearInterval(drainTimer);
    clearTimeout(timer);
    holder!.close();
    if (admin) {
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin!.close(() => resolve()));
    }
    gateway.flushLog();
    logger.info({ port }, 'portcullis stopped');
    logger.flush?.();
  };

  return { port, adminPort, logger, metrics, holder, readiness, reload, close };
}

function withOverrides(settings: Settings, options: StartOptions): Settings {
  return {
    ...settings,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.adminPort !== undefined ? { adminPort: options.adminPort } : {}),
  };
}

function serverOptions(settings: Settings): http.ServerOptions {
  return {
    ...clientLimits(settings),
    // The pipeline refuses a missing or repeated Host itself, with the same JSON error as any refusal.
    requireHostHeader: false,
    noDelay: true,
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function firstKeys(config: CompiledConfig, waitMs: number): Promise<void> {
  const pending = config.verifier.providers.all.filter((p) => !p.keys.ready).map((p) => p.keys.whenSettled());
  if (pending.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
}
