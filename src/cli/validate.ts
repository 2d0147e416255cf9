// portcullis validate: every problem in gateway.yaml as FILE:LINE:COL: path: message. Exit 0 when the
// config can be used (warnings may print), 1 when it can not.
import { loadConfigFile } from '../config/load.ts';
import { formatProblem } from '../config/problems.ts';
import { CONFIG_OPTION, configFile, parse } from './args.ts';

export function validateCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout): number {
  const { values } = parse(args, { ...CONFIG_OPTION, json: { type: 'boolean' } });
  const file = configFile(values.config);
  const result = loadConfigFile(file);
  const errors = result.problems.filter((p) => p.severity === 'error').length;
  const warnings = result.problems.length - errors;
  if (values.json) {
    out.write(JSON.stringify({ valid: result.ok, problems: result.problems }, null, 2) + '\n');
    return result.ok ? 0 : 1;
  }
  for (const problem of result.problems) out.write(formatProblem(problem) + '\n');
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  out.write(
    result.ok
      ? `${file} is valid${warnings ? ` (${plural(warnings, 'warning')})` : ''}\n`
      : `${file} has ${plural(errors, 'error')}${warnings ? ` and ${plural(warnings, 'warning')}` : ''}\n`,
  );
  return result.ok ? 0 : 1;
}
