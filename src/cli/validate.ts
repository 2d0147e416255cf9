// portcullis validate: every problem in gateway.yaml as FILE:LINE:COL: path: message. Exit 0 when the
// config can be used (warnings may print), 1 when it can not.
import { defaultSecretProblems, defaultSecretsAllowed } from '../config/default-secrets.ts';
import { loadConfigFile } from '../config/load.ts';
import { formatProblem, type ConfigProblem } from '../config/problems.ts';
import { CONFIG_OPTION, configFile, parse } from './args.ts';

export function validateCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  const { values } = parse(args, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const file = configFile(values.config);
  const result = loadConfigFile(file, env);
  const problems = [...result.problems, ...(result.ok ? fallbackSecrets(result.loaded, env) : [])];
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  if (values.json) {
    out.write(JSON.stringify({ valid: result.ok, problems }, null, 2) + '\n');
    return result.ok ? 0 : 1;
  }
  for (const problem of problems) out.write(formatProblem(problem) + '\n');
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  out.write(
    result.ok
      ? `${file} is valid${warnings ? ` (${plural(warnings, 'warning')})` : ''}\n`
      : `${file} has ${plural(errors, 'error')}${warnings ? ` and ${plural(warnings, 'warning')}` : ''}\n`,
  );
  return result.ok ? 0 : 1;
}

/**
 * A provider secret that is the file's ${VAR:-fallback} with VAR unset here: the gateway refuses to start
 * on it. A warning, not an error: validate often runs where the production secrets are not (CI), and
 * the config is fine once they are set; but "valid" followed by a refusal at deploy time is a surprise.
 */
function fallbackSecrets(loaded: Parameters<typeof defaultSecretProblems>[0], env: NodeJS.ProcessEnv): ConfigProblem[] {
  if (defaultSecretsAllowed(env)) return [];
  return defaultSecretProblems(loaded).map((problem) => ({ ...problem, severity: 'warning' }));
}
