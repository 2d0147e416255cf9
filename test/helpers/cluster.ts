// A gateway in cluster mode (server.workers) as a child process: started from a config object, returned
// once the primary's /readyz says every worker is ready, with the gateway and admin URLs.
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { startCli, type RunningCli } from './cli.ts';
import { request } from './http.ts';
import { tempDir, writeFile } from './keys.ts';

export interface ClusterGateway {
  readonly gw: RunningCli;
  readonly file: string;
  readonly dir: string;
  readonly base: string;
  readonly admin: string;
  /** The primary's "portcullis primary started" log line. */
  readonly started: Record<string, unknown>;
  /** Polls `check` (every 20 ms, `tries` times); fails at once if the primary exits meanwhile. */
  until(check: () => boolean | Promise<boolean>, tries?: number): Promise<void>;
  /** The primary's verdict on the next reload, whichever it is (a failed one takes the whole reload wait). */
  nextReloadOutcome(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The primary's log messages that end a reload. */
const RELOAD_OUTCOMES: ReadonlySet<string> = new Set([
  'config reloaded in every worker',
  'config reload failed in some workers',
  'config reload refused; the last good config keeps serving',
  'config reload failed unexpectedly; the last good config keeps serving',
]);

export interface ClusterOptions {
  /** The environment, or a function of the directory that holds gateway.yaml and `files`. */
  readonly env?: NodeJS.ProcessEnv | ((dir: string) => NodeJS.ProcessEnv);
  /** A process group of its own, so that a test can signal the whole group as a terminal would. */
  readonly group?: boolean;
  /** Files to write beside gateway.yaml first (name -> text). */
  readonly files?: Record<string, string>;
}

export async function startClusterGateway(config: object, options: ClusterOptions = {}): Promise<ClusterGateway> {
  const dir = tempDir();
  for (const [name, text] of Object.entries(options.files ?? {})) writeFile(dir, name, text);
  const file = writeFile(dir, 'gateway.yaml', stringify(config));
  const env = typeof options.env === 'function' ? options.env(dir) : options.env;
  const gw = startCli(['--config', file, '--port', '0', '--admin-port', '0'], { env, group: options.group });
  const until = async (check: () => boolean | Promise<boolean>, tries = 500): Promise<void> => {
    for (let i = 0; i < tries; i++) {
      if (await check()) return;
      if (gw.child.exitCode !== null) assert.fail(`the primary exited with ${gw.child.exitCode}: ${gw.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('timed out');
  };
  const reloadOutcomes = () => gw.lines.filter((l) => l.pid === gw.child.pid && RELOAD_OUTCOMES.has(l.msg as string));
  const nextReloadOutcome = async () => {
    const seen = reloadOutcomes().length;
    await until(() => reloadOutcomes().length > seen, 2000);
    return reloadOutcomes()[seen]!;
  };
  const started = await gw.waitFor((l) => l.msg === 'portcullis primary started');
  const listening = await gw.waitFor((l) => l.msg === 'portcullis listening');
  const admin = `http://127.0.0.1:${started.admin_port as number}`;
  await until(async () => (await request(admin, '/readyz')).status === 200);
  return {
    gw,
    file,
    dir,
    base: `http://127.0.0.1:${listening.port as number}`,
    admin,
    started,
    until,
    nextReloadOutcome,
    close: async () => {
      gw.child.kill('SIGTERM');
      await gw.exited;
    },
  };
}
