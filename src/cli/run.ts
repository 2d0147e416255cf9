// portcullis [--config FILE]: run the gateway until SIGTERM or SIGINT (graceful: in-flight requests
// finish, up to server.shutdown_timeout; a second signal exits at once). SIGHUP reloads the config.
// With server.workers > 1 this process becomes the cluster primary and the workers run the same command.
// A provider secret that is the ${VAR:-fallback} written in the file is refused unless
// --allow-default-secrets (or PORTCULLIS_ALLOW_DEFAULT_SECRETS=1) says it is meant.
import cluster from 'node:cluster';
import { startPrimary } from '../cluster/primary.ts';
import { runWorker } from '../cluster/worker.ts';
import { defaultSecretProblems, defaultSecretsAllowed } from '../config/default-secrets.ts';
import { loadConfigOrThrow } from '../config/load.ts';
import { ConfigError } from '../config/problems.ts';
import { resolveSettings } from '../config/settings.ts';
import { createLogger, type Logger } from '../server/logger.ts';
import { startGateway } from '../server/runtime.ts';
import { CONFIG_OPTION, configFile, parse, portNumber } from './args.ts';

export const RUN_OPTIONS = {
  ...CONFIG_OPTION,
  port: { type: 'string' },
  'admin-port': { type: 'string' },
  'allow-default-secrets': { type: 'boolean' },
} as const;

export interface RunHooks {
  /** Called after the gateway has stopped (the demo closes its echo backends here). */
  readonly onStop?: () => void;
  /** Serve with ${VAR:-fallback} provider secrets, as --allow-default-secrets does (the demo). */
  readonly allowDefaultSecrets?: boolean;
}

/** What the signal handling needs from a running gateway or cluster primary. */
interface Stoppable {
  readonly logger: Logger;
  reload(trigger: string): Promise<boolean>;
  stop(): Promise<void>;
  kill(): void;
  /** Resolves when the gateway can not go on (no cluster worker could start): it stops and exits 1. */
  readonly startFailed?: Promise<void>;
}

export async function runCommand(args: readonly string[], hooks: RunHooks = {}): Promise<number> {
  const { values } = parse(args, RUN_OPTIONS);
  const file = configFile(values.config);
  const ports = {
    ...(values.port !== undefined ? { port: portNumber('--port', values.port) } : {}),
    ...(values['admin-port'] !== undefined ? { adminPort: portNumber('--admin-port', values['admin-port']) } : {}),
  };
  const allowDefaultSecrets = values['allow-default-secrets'] === true || hooks.allowDefaultSecrets === true;
  if (cluster.isWorker) return runWorker({ configFile: file, allowDefaultSecrets, ...ports });

  const loaded = loadConfigOrThrow(file);
  // Refused before anything listens, in cluster mode too (the primary starts no gateway of its own).
  const allowed = defaultSecretsAllowed(process.env, allowDefaultSecrets);
  const refused = allowed ? [] : defaultSecretProblems(loaded);
  if (refused.length > 0) throw new ConfigError(refused);
  const settings = resolveSettings(loaded.config.server);
  let target: Stoppable;
  if (settings.workers > 1) {
    const logger = createLogger(settings.logLevel);
    const primary = await startPrimary({
      configFile: file,
      loaded,
      workers: settings.workers,
      logger,
      allowDefaultSecrets: allowed,
      ...(ports.adminPort !== undefined ? { adminPort: ports.adminPort } : {}),
    });
    target = { logger, ...primary };
  } else {
    const gateway = await startGateway({ configFile: file, loaded, allowDefaultSecrets, ...ports });
    target = { logger: gateway.logger, reload: gateway.reload, stop: gateway.close, kill: () => {} };
  }
  return new Promise<number>((resolve) => handleSignals(target, hooks, resolve));
}

function handleSignals(target: Stoppable, hooks: RunHooks, exit: (code: number) => void): void {
  let stopping = false;
  const finish = (code: number) => {
    stopping = true;
    void target.stop().then(() => {
      hooks.onStop?.();
      exit(code);
    });
  };
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      target.logger.warn({ signal }, 'second signal: exiting without waiting');
      target.kill();
      target.logger.flush?.();
      process.exit(1);
    }
    target.logger.info({ signal }, 'draining: finishing in-flight requests');
    finish(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void target.reload('SIGHUP'));
  void target.startFailed?.then(() => stopping || finish(1));
}
