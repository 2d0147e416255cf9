// ${VAR} and ${VAR:-default} in any string value. Substitution happens on parsed values, never on the
// raw text, so a variable can not inject YAML structure; "$${" writes a literal "${". What comes out is
// always text: the environment holds strings, and only the schema can say where one means a number
// (see typeScalars in scalar-types.ts), so a 40-digit secret stays the secret it was.
import { formatPath, type ConfigPath, type ConfigProblem } from './problems.ts';
import { isPlainScalar, problemAt, type ConfigSource } from './source.ts';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export interface Interpolated {
  readonly value: unknown;
  /**
   * Key paths (dotted, "providers.0.secret") whose value came from a ${VAR:-default} fallback, each with the
   * variables whose fallback was used.
   */
  readonly defaulted: ReadonlyMap<string, readonly string[]>;
  /** Key paths (formatted, "providers[0].secret") whose value came from the environment. */
  readonly fromEnv: ReadonlySet<string>;
  /** Key paths (formatted) holding a reference that could not be resolved: nothing else is checked there. */
  readonly unresolved: ReadonlySet<string>;
  /**
   * Values written as one unquoted reference (`port: ${PORT:-8080}`): they may become a number or a
   * boolean, where the schema expects one, as if the value had been written there.
   */
  readonly bareReferences: readonly ConfigPath[];
  readonly problems: ConfigProblem[];
}

export function interpolate(value: unknown, source: ConfigSource, env: NodeJS.ProcessEnv): Interpolated {
  const defaulted = new Map<string, string[]>();
  const fromEnv = new Set<string>();
  const unresolved = new Set<string>();
  const bareReferences: ConfigPath[] = [];
  const problems: ConfigProblem[] = [];

  const substitute = (text: string, path: ConfigPath): string => {
    if (!text.includes('$')) return text;
    const fellBack: string[] = [];
    let usedEnv = false;
    let missing = false;
    const result = text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '${';
      const set = env[name];
      if (set !== undefined && (set !== '' || fallback === undefined)) {
        usedEnv = true;
        return set;
      }
      if (fallback !== undefined) {
        fellBack.push(name);
        return fallback;
      }
      missing = true;
      problems.push(
        problemAt(source, path, 'missing_variable', `environment variable ${name} is not set; set it or write \${${name}:-default}`),
      );
      return whole;
    });
    if (fellBack.length > 0) defaulted.set(path.join('.'), fellBack);
    if (usedEnv) fromEnv.add(formatPath(path));
    if (missing) unresolved.add(formatPath(path));
    else if (WHOLE_REFERENCE.test(text) && isPlainScalar(source, path)) bareReferences.push(path);
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

  return { value: walk(value, []), defaulted, fromEnv, unresolved, bareReferences, problems };
}
