// Every metric the gateway registers is in the README's list, by name: a dashboard is built from the
// docs, and a metric nobody can find is one nobody watches.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
/** prom-client's process metrics the gateway removes (server/metrics.ts): they only help an attacker. */
const UNDISCLOSED = new Set(['portcullis_nodejs_version_info', 'portcullis_process_max_fds']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

test('every metric registered in src/ is named in the README', () => {
  const names = new Set<string>();
  for (const file of sourceFiles(path.join(ROOT, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/name: '(portcullis_[a-z_]+)'/g)) names.add(match[1]!);
  }
  assert.ok(names.size >= 20, `only ${names.size} metric names found: the pattern no longer matches how metrics are declared`);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  assert.deepEqual([...names].filter((name) => !UNDISCLOSED.has(name) && !readme.includes(`\`${name}`)), []);
});
