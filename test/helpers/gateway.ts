// The real gateway, started in-process on ephemeral ports from a config written to a temp file, with its
// log lines captured for assertions.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../src/server/logger.ts';
import { startGateway, type RunningGateway } from '../../src/server/runtime.ts';
import { SECRET, tempDir } from './keys.ts';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface TestGateway {
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly file: string;
  readonly dir: string;
  readonly logs: LogLine[];
  readonly running: RunningGateway;
  /** Rewrite the config file (as YAML from an object, or text) and reload. */
  rewrite(config: object | string): Promise<boolean>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly dir?: string;
  readonly watch?: boolean;
}

export function toYaml(config: object | string): string {
  return typeof config === 'string' ? config : stringify(config);
}

export async function startTestGateway(config: object | string, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = options.dir ?? tempDir();
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, toYaml(config));
  const logs: LogLine[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const running = await startGateway({
    configFile: file,
    env: options.env ?? {},
    logger,
    watch: options.watch ?? false,
    port: 0,
    adminPort: 0,
  });
  return {
    url: `http://127.0.0.1:${running.port}`,
    adminUrl: `http://127.0.0.1:${running.adminPort}`,
    port: running.port,
    file,
    dir,
    logs,
    running,
    async rewrite(next) {
      writeFileSync(file, toYaml(next));
      return running.reload('test');
    },
    close: () => running.close(),
  };
}

/** The provider most tests use: HS256 with the test secret, issuer "test". */
export const TEST_PROVIDER = { name: 'test', issuer: 'test', audience: 'api', secret: SECRET };

export function accessLogs(logs: readonly LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'request');
}

/** A config with one upstream and the test provider; `routes` and `extra` complete it. */
export function configWith(upstreamUrl: string, routes: object[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', ...(extra.server as object | undefined) },
    providers: [TEST_PROVIDER],
    forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles', 'X-User-Email': 'email' } },
    upstreams: { app: upstreamUrl },
    routes,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'server')),
  };
}
