// Questions about the schema at a key path ("which keys are allowed here?", "does this key take a
// number?"), answered from the zod definitions so they can never drift from what validation accepts.
import type { z } from 'zod';
import type { ConfigPath } from './problems.ts';
import { gatewaySchema } from './schema.ts';

type AnySchema = z.core.$ZodType;

/** What a scalar written at a key may become: the JSON types the schema accepts there. */
export type ScalarKind = 'string' | 'number' | 'boolean';

/** Keys the schema allows for the object at `path`, to suggest the nearest one for a typo. */
export function knownKeysAt(path: ConfigPath): string[] {
  return schemasAt(path).flatMap(function keysOf(c: AnySchema): string[] {
    const def = unwrap(c)._zod.def as { type: string; shape?: Record<string, unknown>; options?: AnySchema[] };
    if (def.type === 'union') return (def.options ?? []).flatMap(keysOf);
    return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
  });
}

/** The scalar types the schema accepts at `path` (empty when the path is unknown to it). */
export function scalarKindsAt(path: ConfigPath): ReadonlySet<ScalarKind> {
  const kinds = new Set<ScalarKind>();
  const collect = (schema: AnySchema): void => {
    const def = unwrap(schema)._zod.def as { type: string; options?: AnySchema[]; values?: unknown[] };
    if (def.type === 'union') (def.options ?? []).forEach(collect);
    else if (def.type === 'string' || def.type === 'enum') kinds.add('string');
    else if (def.type === 'number') kinds.add('number');
    else if (def.type === 'boolean') kinds.add('boolean');
    else if (def.type === 'literal') for (const v of def.values ?? []) kinds.add(typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string');
  };
  schemasAt(path).forEach(collect);
  return kinds;
}

function schemasAt(path: ConfigPath): AnySchema[] {
  let candidates: AnySchema[] = [gatewaySchema];
  for (const step of path) {
    candidates = candidates.flatMap((c) => childSchemas(unwrap(c), step));
  }
  return candidates;
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
