// Config problems: what is wrong, where (FILE:LINE:COL and the key path) and, when we can tell, how to fix
// it. validate prints them; startup and reload refuse a config that has any error among them.

export type Severity = 'error' | 'warning';

export type ConfigPath = readonly (string | number)[];

export interface ConfigProblem {
  readonly severity: Severity;
  /** Stable identifier, e.g. "unknown_key", "unknown_upstream", "shadowed_route". */
  readonly code: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted key path, e.g. routes[2].upstream. */
  readonly path: string;
  readonly message: string;
}

export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

/** FILE:LINE:COL: path.to.key: message   (warnings say so after the position). */
export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.col}:`;
  return p.severity === 'warning' ? `${where} warning: ${p.path}: ${p.message}` : `${where} ${p.path}: ${p.message}`;
}

/** Thrown when a config cannot be used; carries every problem, not only the first. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(
      `${errors.length} error${errors.length === 1 ? '' : 's'} in configuration:\n` +
        errors.map(formatProblem).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function hasErrors(problems: readonly ConfigProblem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}
