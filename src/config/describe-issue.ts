// A zod issue as the sentence validate prints: what the key takes, what was written (unless it must not
// be repeated: a secret, or anything that came from the environment), and the nearest allowed value.
import type { z } from 'zod';
import type { ConfigPath } from './problems.ts';
import { knownKeysAt } from './schema-walk.ts';
import { closest } from './suggest.ts';

type Issue = z.core.$ZodIssue;

/** Keys whose value never appears in a message, nor therefore in the log of a refused reload (a Redis URL may hold a password). */
const SECRET_KEYS: ReadonlySet<string> = new Set(['secret', 'rate_limit_store']);

/** zod's own messages start so; a message the schema wrote itself is worth keeping. */
const ZOD_DEFAULT_MESSAGE = /^(Invalid (option|input)|Too (small|big):)/;

/** A secret, or anything inside one (a list of secrets, {value, kid}) but a kid, which every token shows. */
export function isSecretPath(path: ConfigPath): boolean {
  return path[path.length - 1] !== 'kid' && path.some((step) => typeof step === 'string' && SECRET_KEYS.has(step));
}

/** `conceal`: the value at this path must not be shown. */
export function describeIssue(issue: Issue, path: ConfigPath, conceal: boolean): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `missing required key "${String(path[path.length - 1])}"`;
  }
  if (issue.code === 'invalid_value') return describeChoice(issue.values, issue.input, conceal, ownMessage(issue));
  if (issue.code === 'invalid_union') {
    const own = ownMessage(issue);
    return own !== undefined ? own + misspeltKey(issue.input, path) : describeUnion(issue, conceal);
  }
  if (issue.code === 'invalid_type') {
    const own = ownMessage(issue);
    if (own !== undefined) return `${own}; got ${describeValue(issue.input, conceal)}`;
    return `expected ${expectedType(issue.expected)}, got ${describeValue(issue.input, conceal)}${quoteHint(issue)}${listHint(issue, conceal)}`;
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') return ownMessage(issue) ?? describeBound(issue, conceal);
  return issue.message;
}

/** "must be at least 1, got 0", "list at least one": zod's "Too small: expected number to be >=1" in words. */
function describeBound(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, conceal: boolean): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? issue.minimum : issue.maximum);
  if (issue.origin === 'array') {
    const count = limit === 1 ? 'one entry' : `${limit} entries`;
    return small ? `list at least ${count}` : `list at most ${count}`;
  }
  const bound = issue.inclusive === false ? (small ? 'more than' : 'less than') : small ? 'at least' : 'at most';
  const got = typeof issue.input === 'number' ? `, got ${describeValue(issue.input, conceal)}` : '';
  return `must be ${bound} ${limit}${got}`;
}

/** YAML's words for zod's types: a list, a mapping. */
function expectedType(expected: string): string {
  if (expected === 'array') return 'a list';
  if (expected === 'object') return 'a mapping';
  return expected;
}

/** `targets: http://a` where a list is wanted: the list of one it probably means. */
function listHint(issue: Extract<Issue, { code: 'invalid_type' }>, conceal: boolean): string {
  const scalar = typeof issue.input === 'string' || typeof issue.input === 'number';
  return issue.expected === 'array' && scalar && !conceal ? `; for a list of one, write [${String(issue.input)}]` : '';
}

function describeChoice(values: readonly unknown[], input: unknown, conceal: boolean, note: string | undefined): string {
  const options = values.map(String);
  const list = options.length === 1 ? options[0]! : `one of ${options.join(', ')}`;
  return `must be ${list}${note ? ` (${note})` : ''}${suggestion(input, options, conceal)}`;
}

/**
 * "must be auto or a number, got string "aut"; did you mean "auto"?" when every branch simply wanted
 * another type or value; otherwise the messages of the branches that got further than the type.
 */
function describeUnion(issue: Extract<Issue, { code: 'invalid_union' }>, conceal: boolean): string {
  const tops = issue.errors.map((branch) => (branch.length === 1 && branch[0]!.path.length === 0 ? branch[0]! : undefined));
  if (tops.every((t) => t !== undefined && (t.code === 'invalid_type' || t.code === 'invalid_value'))) {
    const wanted: string[] = [];
    const values: string[] = [];
    for (const top of tops as Issue[]) {
      if (top.code === 'invalid_value') values.push(...top.values.map(String));
      else if (top.code === 'invalid_type') wanted.push(typeName(top.expected));
    }
    const alternatives = [...values, ...wanted];
    const list = alternatives.length > 2 ? `one of ${alternatives.join(', ')}` : alternatives.join(' or ');
    return `must be ${list}, got ${describeValue(issue.input, conceal)}${suggestion(issue.input, values, conceal)}`;
  }
  const further = issue.errors.filter((branch) => !branch.every((e) => e.code === 'invalid_type' && e.path.length === 0));
  const messages = new Set((further.length > 0 ? further : issue.errors).flat().map((e) => e.message));
  return [...messages].join('; or ');
}

/** For a union of mappings: the key written that none of them has, and the nearest one they do. */
function misspeltKey(input: unknown, path: ConfigPath): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return '';
  const known = knownKeysAt(path);
  const unknown = Object.keys(input).find((k) => !known.includes(k));
  if (unknown === undefined) return '';
  const match = closest(unknown, known);
  return `; "${unknown}" is none of them${match !== undefined ? `: did you mean "${match}"?` : ''}`;
}

function suggestion(input: unknown, options: readonly string[], conceal: boolean): string {
  if (conceal || typeof input !== 'string' || options.length === 0) return '';
  const match = closest(input, options);
  return match === undefined || match === input ? '' : `; did you mean "${match}"?`;
}

function ownMessage(issue: Issue): string | undefined {
  return ZOD_DEFAULT_MESSAGE.test(issue.message) ? undefined : issue.message;
}

function quoteHint(issue: Extract<Issue, { code: 'invalid_type' }>): string {
  const scalar = typeof issue.input === 'number' || typeof issue.input === 'boolean';
  return issue.expected === 'string' && scalar ? '; put it in quotes to write it as text' : '';
}

function typeName(expected: string): string {
  if (expected === 'array') return 'a list';
  if (expected === 'object') return 'a mapping';
  return `a ${expected}`;
}

function describeValue(input: unknown, conceal: boolean): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return conceal ? `a ${typeof input} (not shown)` : `${typeof input} ${JSON.stringify(input)}`;
}
