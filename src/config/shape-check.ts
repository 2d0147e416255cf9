// Schema validation of the parsed file: zod issues turned into positioned problems, with a suggestion for
// every unknown key.
import type { z } from 'zod';
import { gatewaySchema, type GatewayConfig } from './schema.ts';
import type { ConfigPath, ConfigProblem } from './problems.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';

type AnySchema = z.core.$ZodType;

export interface ShapeCheck {
  /** The config, when it has the right shape. */
  readonly config?: GatewayConfig;
  /**
   * When it has not: the config with the offending keys and values left out, if that has the right
   * shape. Only for finding the other errors (unknown upstreams, duplicates...) in the same run.
   */
  readonly repaired?: GatewayConfig;
  readonly problems: ConfigProblem[];
}

export function checkShape(value: unknown, source: ConfigSource): ShapeCheck {
  // reportInput: a message can then say what was written ("got string \"abc\""), and tell a missing key
  // from a wrong value.
  const result = gatewaySchema.safeParse(value ?? {}, { reportInput: true });
  if (result.success) return { config: result.data, problems: [] };
  const problems: ConfigProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(gatewaySchema, path);
      for (const key of issue.keys) {
        problems.push(
          problemAt(source, [...path, key], 'unknown_key', `unknown key "${key}"${didYouMean(key, known)}`, 'error', true),
        );
      }
      continue;
    }
    problems.push(problemAt(source, path, issue.code, describeIssue(issue, path)));
  }
  const repaired = repair(value, result.error.issues);
  return repaired ? { repaired, problems } : { problems };
}

/** Drops unknown keys and invalid optional values until the rest parses (a few rounds at most). */
function repair(value: unknown, firstIssues: readonly z.core.$ZodIssue[]): GatewayConfig | undefined {
  let draft: unknown = structuredClone(value ?? {});
  let issues = firstIssues;
  for (let round = 0; round < 5; round++) {
    for (const issue of issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], draft);
      if (issue.code === 'unrecognized_keys') {
        const target = path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], draft);
        for (const key of issue.keys) delete (target as Record<string, unknown>)[key];
      } else if (path[0] === 'upstreams' && path.length >= 2) {
        // An upstream with a broken value is still defined: routes naming it are not "unknown upstream".
        (draft as { upstreams: Record<string, unknown> }).upstreams[path[1]!] = 'http://invalid.invalid';
      } else if (parent !== null && typeof parent === 'object' && !Array.isArray(parent) && path.length > 0) {
        delete (parent as Record<string | number, unknown>)[path[path.length - 1]!];
      } else {
        return undefined;
      }
    }
    const next = gatewaySchema.safeParse(draft);
    if (next.success) return next.data;
    issues = next.error.issues;
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, path: ConfigPath): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `missing required key "${String(path[path.length - 1])}"`;
  }
  if (issue.code === 'invalid_union') {
    // A union of "URL or object" explains itself better than zod's list of branches.
    const messages = new Set(issue.errors.flat().map((e) => e.message));
    return [...messages].join('; or ');
  }
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected}, got ${describeValue(issue.input)}`;
  }
  return issue.message;
}

function describeValue(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return `${typeof input} ${JSON.stringify(input)}`;
}

/** Keys the schema allows for the object at `path`, to suggest the nearest one for a typo. */
export function knownKeysAt(schema: AnySchema, path: ConfigPath): string[] {
  let candidates: AnySchema[] = [schema];
  for (const step of path) {
    candidates = candidates.flatMap((c) => childSchemas(unwrap(c), step));
  }
  return candidates.flatMap(function keysOf(c: AnySchema): string[] {
    const def = unwrap(c)._zod.def as { type: string; shape?: Record<string, unknown>; options?: AnySchema[] };
    if (def.type === 'union') return (def.options ?? []).flatMap(keysOf);
    return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
  });
}

function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: AnySchema };
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) {
      current = def.innerType;
    } else {
      return current;
    }
  }
}

function childSchemas(schema: AnySchema, step: string | number): AnySchema[] {
  const def = schema._zod.def as {
    type: string;
    shape?: Record<string, AnySchema>;
    element?: AnySchema;
    valueType?: AnySchema;
    options?: AnySchema[];
  };
  switch (def.type) {
    case 'object':
      return typeof step === 'string' && def.shape?.[step] ? [def.shape[step]] : [];
    case 'array':
      return def.element ? [def.element] : [];
    case 'record':
      return def.valueType ? [def.valueType] : [];
    case 'union':
      return (def.options ?? []).flatMap((o) => childSchemas(unwrap(o), step));
    default:
      return [];
  }
}
