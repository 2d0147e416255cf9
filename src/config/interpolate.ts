// ${VAR} and ${VAR:-default} in any string value. Substitution happens on parsed values, never on the
// raw text, so a variable can not inject YAML structure; "$${" writes a literal "${".
import type { ConfigPath, ConfigProblem } from './problems.ts';
import { isPlainScalar, problemAt, type ConfigSource } from './source.ts';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export interface Interpolated {
  readonly value: unknown;
  /** Key paths (formatted) whose value came from a ${VAR:-default} fallback. */
  readonly defaulted: ReadonlySet<string>;
  readonly problems: ConfigProblem[];
}

export function interpolate(
  value: unknown,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
): Interpolated {
  const defaulted = new Set<string>();
  const problems: ConfigProblem[] = [];

  const substitute = (text: string, path: ConfigPath): unknown => {
    if (!text.includes('$')) return text;
    let usedDefault = false;
    const result = text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '${';
      const set = env[name];
      if (set !== undefined && (set !== '' || fallback === undefined)) return set;
      if (fallback !== undefined) {
        usedDefault = true;
        return fallback;
      }
      problems.push(
        problemAt(source, path, 'missing_variable', `environment variable ${name} is not set; set it or write \${${name}:-default}`),
      );
      return whole;
    });
    if (usedDefault) defaulted.add(path.join('.'));
    // A plain `port: ${PORT:-8080}` is a number, as if 8080 had been written there.
    if (WHOLE_REFERENCE.test(text) && isPlainScalar(source, path)) return coerceScalar(result);
    return result;
  };

  const walk = (node: unknown, path: ConfigPath): unknown => {
    if (typeof node === 'string') return substitute(node, path);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };

  return { value: walk(value, []), defaulted, problems };
}

function coerceScalar(text: string): unknown {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}
