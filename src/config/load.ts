// Loading gateway.yaml: read, parse (keeping positions), substitute ${VAR}, check the shape, check the
// rules, collect warnings. Everything validate reports, startup and reload enforce.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkProviders, type ProviderKeys } from './check-providers.ts';
import { checkRoutes } from './check-routes.ts';
import { checkServer } from './check-server.ts';
import { checkUpstreams } from './check-upstreams.ts';
import { checkTraffic, trafficWarnings } from './check-traffic.ts';
import { interpolate, type Interpolated } from './interpolate.ts';
import { ConfigError, hasErrors, type ConfigProblem } from './problems.ts';
import type { GatewayConfig } from './schema.ts';
import { checkShape } from './shape-check.ts';
import { parseSource, type ConfigSource } from './source.ts';
import { findWarnings } from './warnings.ts';
import { documentValue } from './yaml-value.ts';
import { typeScalars } from './scalar-types.ts';

export interface LoadedConfig {
  /** The file as named by the user, for messages. */
  readonly file: string;
  /** Key files are relative to this directory. */
  readonly baseDir: string;
  readonly source: ConfigSource;
  /** The text it was loaded from: cluster workers are started from exactly this. */
  readonly text: string;
  readonly config: GatewayConfig;
  /** Key paths ("providers.0.secret") whose value is a ${VAR:-default} fallback, with the variables unset. */
  readonly defaulted: ReadonlyMap<string, readonly string[]>;
  readonly providerKeys: ReadonlyMap<string, ProviderKeys>;
  /** Warnings only: a config with errors is never loaded. */
  readonly warnings: readonly ConfigProblem[];
}

export type LoadResult =
  | { readonly ok: true; readonly loaded: LoadedConfig; readonly problems: readonly ConfigProblem[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Never throws: whatever goes wrong with the text is a problem in the result (a reload must not crash). */
export function loadConfigText(file: string, text: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  try {
    return checkConfigText(file, text, env);
  } catch (err) {
    const message = `the configuration could not be checked: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, problems: [{ severity: 'error', code: 'config_check_failed', file, line: 1, col: 1, path: '(file)', message }] };
  }
}

function checkConfigText(file: string, text: string, env: NodeJS.ProcessEnv): LoadResult {
  const { source, problems: syntax } = parseSource(file, text);
  if (hasErrors(syntax)) return { ok: false, problems: syntax };
  const values = resolvedValues(source, env);
  if (values.interpolated === undefined) return { ok: false, problems: values.problems };

  const interpolated = values.interpolated;
  const shape = checkShape(interpolated.value, source, { concealed: interpolated.fromEnv });
  const problems = [...interpolated.problems, ...shape.problems];
  // A config with shape errors is still checked for the rest, so one run lists every error.
  const checkable = shape.config ?? shape.repaired;
  if (!checkable) return refuse(problems, interpolated.unresolved);

  const baseDir = path.dirname(path.resolve(file));
  const providers = checkProviders(checkable, source, baseDir);
  problems.push(...providers.problems, ...checkRoutes(checkable, source), ...checkServer(checkable, source), ...checkUpstreams(checkable, source), ...checkTraffic(checkable, source));
  if (!hasErrors(problems)) problems.push(...findWarnings(checkable, source), ...trafficWarnings(checkable, source));
  if (hasErrors(problems) || !shape.config) return refuse(problems, interpolated.unresolved);

  const sorted = sortByPosition(problems);
  return {
    ok: true,
    problems: sorted,
    loaded: {
      file,
      baseDir,
      source,
      text,
      config: shape.config,
      defaulted: interpolated.defaulted,
      providerKeys: providers.keys,
      warnings: sorted,
    },
  };
}

/**
 * The document as plain values, ${VAR} substituted and bare references typed as the schema takes them:
 * what validation checks, and what the health probe reads the admin address from. Undefined
 * `interpolated` when the document's values can not be read (an alias bomb...), with the problems saying why.
 */
export function resolvedValues(source: ConfigSource, env: NodeJS.ProcessEnv): { problems: ConfigProblem[]; interpolated?: Interpolated } {
  const parsed = documentValue(source);
  if (hasErrors(parsed.problems)) return { problems: parsed.problems };
  const interpolated = interpolate(parsed.value, source, env);
  typeScalars(interpolated.value, interpolated.bareReferences);
  return { problems: parsed.problems, interpolated };
}

/** Whatever was found at a value that still reads "${VAR}" is about that text, not the value meant. */
function refuse(problems: readonly ConfigProblem[], unresolved: ReadonlySet<string>): LoadResult {
  const meaningful = problems.filter((p) => p.code === 'missing_variable' || !atOrUnder(p.path, unresolved));
  return { ok: false, problems: sortByPosition(meaningful) };
}

function atOrUnder(problemPath: string, paths: ReadonlySet<string>): boolean {
  for (const p of paths) {
    if (problemPath === p || problemPath.startsWith(`${p}.`) || problemPath.startsWith(`${p}[`)) return true;
  }
  return false;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file; pass --config FILE or set PORTCULLIS_CONFIG' : `can not be read (${code ?? 'error'})`;
    return {
      ok: false,
      problems: [{ severity: 'error', code: 'config_unreadable', file, line: 1, col: 1, path: '(file)', message: reason }],
    };
  }
  return loadConfigText(file, text, env);
}

/** Load or throw a ConfigError carrying every problem. */
export function loadConfigOrThrow(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return orThrow(loadConfigFile(file, env));
}

export function loadConfigTextOrThrow(file: string, text: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return orThrow(loadConfigText(file, text, env));
}

function orThrow(result: LoadResult): LoadedConfig {
  if (!result.ok) throw new ConfigError(result.problems);
  return result.loaded;
}

function sortByPosition(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}
