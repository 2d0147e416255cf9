// An unquoted `${VAR}` becomes what the schema expects at its key: `port: ${PORT}` a number,
// `access_log: ${FLAG:-true}` a boolean, `secret: ${JWT_SECRET}` always text, however many digits it has.
import type { ConfigPath } from './problems.ts';
import { scalarKindsAt } from './schema-walk.ts';

const INTEGER = /^-?\d+$/;

/** Converts, in place, the text at each of `paths` that the schema takes as a number or a boolean. */
export function typeScalars(value: unknown, paths: readonly ConfigPath[]): void {
  for (const path of paths) {
    const parent = path.slice(0, -1).reduce<unknown>((node, step) => (isContainer(node) ? node[step] : undefined), value);
    const key = path[path.length - 1];
    if (key === undefined || !isContainer(parent)) continue;
    const text = parent[key];
    if (typeof text === 'string') parent[key] = typed(text, path);
  }
}

function typed(text: string, path: ConfigPath): unknown {
  const kinds = scalarKindsAt(path);
  if (kinds.has('number') && INTEGER.test(text)) return Number(text);
  if (kinds.has('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

function isContainer(node: unknown): node is Record<string | number, unknown> {
  return node !== null && typeof node === 'object';
}
