// Command-line parsing shared by the commands: node:util's parseArgs, plus the config file rule
// (--config, else $PORTCULLIS_CONFIG, else ./gateway.yaml) and usage errors that exit 1.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const satisfies Options;

export function parse<T extends Options>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function configFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.PORTCULLIS_CONFIG ?? 'gateway.yaml';
}

/** A --port style flag: an integer from 0 to 65535. */
export function portNumber(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`${flag} ${text}: expected a port number`);
  return port;
}
