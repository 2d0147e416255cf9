// Schema validation of the parsed file: zod issues turned into positioned problems, with a suggestion for
// every unknown key and every mistyped choice.
import { describeIssue, isSecretPath } from './describe-issue.ts';
import { formatPath, type ConfigPath, type ConfigProblem } from './problems.ts';
import { repair } from './repair.ts';
import { gatewaySchema, type GatewayConfig } from './schema.ts';
import { knownKeysAt } from './schema-walk.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';
import type { z } from 'zod';

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
  for (const issue of result.error.issues.flatMap(withinMeantBranch)) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(path);
      for (const key of issue.keys) {
        problems.push(
          problemAt(source, [...path, key], 'unknown_key', `unknown key "${key}"${didYouMean(key, known)}`, 'error', true),
        );
      }
      continue;
    }
    problems.push(problemAt(source, path, issue.code, describeIssue(issue, path, conceal(path))));
  }
  const repaired = repair(value, result.error.issues);
  return repaired ? { repaired, problems } : { problems };
}

type Issue = z.core.$ZodIssue;

/**
 * A union whose value plainly meant one of its branches (a mapping where an upstream is a URL or a
 * mapping): the issues inside that branch, each at its own key, rather than one sentence about the union
 * at the mapping. A branch is meant when it is the only one the value got into (its issues are inside it).
 */
function withinMeantBranch(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const entered = issue.errors.filter((branch) => branch.some((e) => e.path.length > 0));
  if (entered.length !== 1) return [issue];
  return entered[0]!.flatMap((inner) => withinMeantBranch({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}
