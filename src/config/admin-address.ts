// Where the admin listener is, read as leniently as possible. The health probe needs only this, and must
// not fail because of an edit the running gateway has refused (it keeps serving the last good config):
// a probe that validated the whole file would get a healthy container restarted into the broken config.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { gatewaySchema, DEFAULTS } from './schema.ts';
import { parseSource } from './source.ts';
import { resolvedValues } from './load.ts';
import { isMapping } from './yaml-value.ts';

export interface AdminAddress {
  readonly host: string;
  readonly port: number;
}

const server = gatewaySchema.shape.server.unwrap().shape;

/**
 * server.admin_host and server.admin_port, with ${VAR} substituted; each one that is
 * missing, invalid or unreadable (no file, not YAML) is its default. Never throws.
 */
export function readAdminAddress(file: string, env: NodeJS.ProcessEnv = process.env): AdminAddress {
  const values = readServerValues(file, env);
  return {
    host: pick(server.admin_host, values.admin_host) ?? DEFAULTS.admin_host,
    port: pick(server.admin_port, values.admin_port) ?? DEFAULTS.admin_port,
  };
}

function pick<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The server: mapping of as much of the file as can be read (a syntax error elsewhere does not matter). */
function readServerValues(file: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  try {
    const { source } = parseSource(file, readFileSync(file, 'utf8'));
    const root = resolvedValues(source, env).interpolated?.value;
    const serverValue = isMapping(root) ? root.server : undefined;
    return isMapping(serverValue) ? serverValue : {};
  } catch {
    return {};
  }
}
