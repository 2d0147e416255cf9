// docs/configuration.md against the schema (src/config/schema.ts, through the JSON Schema it generates):
// every key has a row in a table, the default its description states is the row's, and a bounded
// number says its bounds there. Users read the docs, not the schema: the two must not drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gatewayJsonSchema } from '../../src/config/schema.ts';

const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** Keys that are sections or the forms of a value, documented by their own headings and examples. */
const NOT_TABLE_ROWS = new Set(['server', 'upstreams', 'routes', 'rate_limits', 'kid', 'file', 'value', 'contains', 'contains_any', 'contains_all', 'present', 'param', 'contains_param']);

interface JsonSchema {
  readonly properties?: Record<string, JsonSchema>;
  readonly anyOf?: JsonSchema[];
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly description?: string;
  readonly type?: string;
  readonly minimum?: number;
  readonly maximum?: number;
}

/** Every property in the schema, with the nodes that describe it (a key may appear in several places). */
function keysOf(root: JsonSchema): Map<string, JsonSchema[]> {
  const keys = new Map<string, JsonSchema[]>();
  const walk = (node: JsonSchema | boolean | undefined, key: string | undefined): void => {
    if (typeof node !== 'object') return;
    if (key !== undefined) keys.set(key, [...(keys.get(key) ?? []), node]);
    for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, name);
    for (const branch of node.anyOf ?? []) walk(branch, undefined);
    walk(node.items, undefined);
    walk(node.additionalProperties, undefined);
  };
  walk(root as JsonSchema, undefined);
  return keys;
}

/** The rows of every key table: "| `key` | default | meaning |". */
function rowsOf(key: string): string[] {
  return docs.split('\n').filter((line) => line.startsWith(`| \`${key}\` |`));
}

/** Descriptions and bounds found at a key anywhere below its node (through unions and lists). */
function facts(nodes: readonly JsonSchema[]): { defaults: string[]; bounds: number[] } {
  const defaults: string[] = [];
  const bounds: number[] = [];
  const visit = (node: JsonSchema): void => {
    const stated = node.description === undefined ? undefined : /\(default ([^;)]+)/.exec(node.description)?.[1];
    if (stated !== undefined) defaults.push(stated.trim());
    if (node.type === 'integer' || node.type === 'number') {
      for (const bound of [node.minimum, node.maximum]) if (bound !== undefined && bound < Number.MAX_SAFE_INTEGER) bounds.push(bound);
    }
    for (const branch of node.anyOf ?? []) visit(branch);
  };
  nodes.forEach(visit);
  return { defaults, bounds };
}

test('every key of the schema has a row in a table of docs/configuration.md', () => {
  const missing = [...keysOf(gatewayJsonSchema() as JsonSchema).keys()].filter((key) => !NOT_TABLE_ROWS.has(key) && rowsOf(key).length === 0);
  assert.deepEqual(missing, []);
});

test('a default the schema states is the one a row for that key gives', () => {
  const wrong: string[] = [];
  for (const [key, nodes] of keysOf(gatewayJsonSchema() as JsonSchema)) {
    for (const stated of facts(nodes).defaults) {
      // "all of ..." (retries.on) is said in words: "all five".
      if (stated.startsWith('all of')) continue;
      if (!rowsOf(key).some((row) => plain(row.split('|')[2]!) === plain(stated))) wrong.push(`${key}: the schema says ${stated}`);
    }
  }
  assert.deepEqual(wrong, []);
});

/** A default as written in either place, without its quotes, backticks or brackets: `[scope, scp]` is "[scope, scp]". */
function plain(text: string): string {
  return text.replace(/[`"[\]]/g, '').trim();
}

test('a number with bounds says them in its row', () => {
  const unsaid: string[] = [];
  for (const [key, nodes] of keysOf(gatewayJsonSchema() as JsonSchema)) {
    for (const bound of facts(nodes).bounds) {
      if (!rowsOf(key).some((row) => new RegExp(`(^|[^0-9])${bound}([^0-9]|$)`).test(row))) unsaid.push(`${key}: ${bound}`);
    }
  }
  assert.deepEqual(unsaid, []);
});
