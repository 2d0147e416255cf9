// portcullis [--config FILE]: run the gateway until SIGTERM or SIGINT (graceful: in-flight requests
// finish, up to server.shutdown_timeout; a second signal exits at once). SIGHUP reloads the config.
import { startGateway, type RunningGateway } from '../server/runtime.ts';
import { CONFIG_OPTION, configFile, parse, UsageError } from './args.ts';

export const RUN_OPTIONS = {
  ...CONFIG_OPTION,
  port: { type: 'string' },
  'admin-port': { type: 'string' },
} as const;

export interface RunHooks {
  /** Called after the gateway has stopped (the demo closes its echo backends here). */
  readonly onStop?: () => void;
}

export async function runCommand(args: readonly string[], hooks: RunHooks = {}): Promise<number> {
  const { values } = parse(args, RUN_OPTIONS);
  const gateway = await startGateway({
    configFile: configFile(values.config),
    ...portOption('port', values.port),
    ...portOption('adminPort', values['admin-port']),
  });
  return new Promise<number>((resolve) => handleSignals(gateway, hooks, resolve));
}

function portOption(key: 'port' | 'adminPort', text: string | undefined): { port?: number; adminPort?: number } {
  if (text === undefined) return {};
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--${key === 'port' ? 'port' : 'admin-port'} ${text}: expected a port number`);
  return { [key]: port };
}

function handleSignals(gateway: RunningGateway, hooks: RunHooks, exit: (code: number) => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      gateway.logger.warn({ signal }, 'second signal: exiting without waiting');
      gateway.logger.flush?.();
      process.exit(1);
    }
    stopping = true;
    gateway.logger.info({ signal }, 'draining: finishing in-flight requests');
    void gateway.close().then(() => {
      hooks.onStop?.();
      exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
}
