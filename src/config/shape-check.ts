// Schema validation of the parsed file: zod issues turned into positioned problems, with a suggestion for
// every unknown key and every mistyped choice.
import type { z } from 'zod';
import { describeIssue, isSecretPath } from './describe-issue.ts';
import { formatPath, type ConfigPath, type ConfigProblem } from './problems.ts';
import { repair } from './repair.ts';
import { gatewaySchema, type GatewayConfig } from './schema.ts';
import { knownKeysAt } from './schema-walk.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';

type Issue = z.core.$ZodIssue;

export interface ShapeCheck {
  /** The config, when it has the right shape. */
  readonly config?: GatewayConfig;
  /**
   * When it has not: the config with the offending keys and values left out or replaced by inert
   * placeholders. Only for finding the other errors (unknown upstreams, duplicates...) in the same run.
   */
  readonly repaired?: GatewayConfig;
  readonly problems: ConfigProblem[];
}

export interface ShapeOptions {
  /** Key paths (formatted) whose value must not be shown in a message: it came from the environment. */
  readonly concealed?: ReadonlySet<string>;
}

export function checkShape(value: unknown, source: ConfigSource, options: ShapeOptions = {}): ShapeCheck {
  // reportInput: a message can then say what was written ("got string \"abc\""), and tell a missing key
  // from a wrong value.
  const result = gatewaySchema.safeParse(value ?? {}, { reportInput: true });
  if (result.success) return { config: result.data, problems: [] };
  const conceal = (path: ConfigPath) => isSecretPath(path) || (options.concealed?.has(formatPath(path)) ?? false);
  const problems: ConfigProblem[] = [];
  const issues = result.error.issues.flatMap(narrowed);
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(path);
      for (const key of issue.keys) {
        problems.push(
          problemAt(source, [...path, key], 'unknown_key', `unknown key "${key}"${didYouMean(key, known) || keysHere(known)}`, 'error', true),
        );
      }
      continue;
    }
    problems.push(problemAt(source, path, issue.code, describeIssue(issue, path, conceal(path))));
  }
  const repaired = repair(value, issues);
  return repaired ? { repaired, problems } : { problems };
}

/**
 * A value that only one alternative of a union got past the type check of (a list of secrets whose entry
 * has `kid: 2025`, a number) is wrong where that alternative says: its issues, at their own paths
 * (`secret[0].kid: expected string, got number`), rather than "Invalid input" at the whole key, which the
 * repair would then drop, and with it the provider's key source.
 */
function narrowed(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || !/^Invalid input$/.test(issue.message)) return [issue];
  // A branch got past the type check when its issues are all inside the value, or are keys it does not
  // know (a mapping where a mapping was wanted: `{path: k.pem}` for `{file, kid}`).
  const further = issue.errors.filter((branch) => branch.length > 0 && branch.every((e) => e.path.length > 0 || e.code === 'unrecognized_keys'));
  if (further.length !== 1) return [issue];
  return further[0]!.flatMap((inner) => narrowed({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}

/** No name is close enough to suggest: the few a small mapping takes are listed instead. */
function keysHere(known: readonly string[]): string {
  return known.length > 0 && known.length <= 8 ? ` (this mapping takes ${known.join(', ')})` : '';
}
