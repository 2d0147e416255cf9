// The catalog of refusals (src/pipeline/denials.ts) is what the gateway answers with; the table in
// docs/configuration.md is what users read. They must say the same: every code under the same status.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DENIALS, type DenialCode } from '../../src/pipeline/denials.ts';
import { deny } from '../../src/pipeline/decision.ts';
import { errorReply } from '../../src/server/respond.ts';

const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** status -> the codes its row of "Responses the gateway makes itself" names (the first word in backticks of each item). */
function documentedCodes(): Map<number, Set<string>> {
  const section = docs.slice(docs.indexOf('## Responses the gateway makes itself'));
  const rows = new Map<number, Set<string>>();
  for (const line of section.split('\n')) {
    const row = /^\| (\d{3}) \| (.*) \|$/.exec(line);
    if (!row) continue;
    // Codes are the backticked snake_case words; header names and values in backticks (Retry-After...) are not.
    const codes = [...row[2]!.matchAll(/`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`/g)].map((m) => m[1]!).filter((c) => c in DENIALS);
    rows.set(Number(row[1]), new Set(codes));
  }
  return rows;
}

test('every code in the catalog is in the docs table under its own status, and the table names no other', () => {
  const rows = documentedCodes();
  const catalog = new Map<number, Set<string>>();
  for (const [code, spec] of Object.entries(DENIALS)) {
    if (!catalog.has(spec.status)) catalog.set(spec.status, new Set());
    catalog.get(spec.status)!.add(code);
  }
  assert.deepEqual([...rows.keys()].sort(), [...catalog.keys()].sort(), 'the same statuses');
  for (const [status, codes] of catalog) {
    assert.deepEqual([...rows.get(status)!].sort(), [...codes].sort(), `the codes of ${status}`);
  }
});

test('a 401 carries a Bearer challenge, with error= exactly when a token was sent; a 403 for a scope names it', () => {
  for (const [code, spec] of Object.entries(DENIALS) as [DenialCode, (typeof DENIALS)[DenialCode]][]) {
    const reply = errorReply('r-1', deny(code, 'a sentence', { scope: 'orders:write' }));
    assert.equal(reply.status, spec.status, code);
    const challenge = reply.headers['www-authenticate'];
    if (spec.status === 401) assert.match(challenge ?? '', /^Bearer realm="portcullis"/, code);
    if (code === 'token_missing') assert.equal(challenge, 'Bearer realm="portcullis"');
    else if (spec.status === 401) assert.match(challenge!, /error="invalid_(token|request)"/, code);
    if (code === 'insufficient_scope') assert.match(challenge!, /error="insufficient_scope".*scope="orders:write"/);
    if (spec.status !== 401 && spec.status !== 403) assert.equal(challenge, undefined, code);
    assert.deepEqual(JSON.parse(reply.body), { error: code, message: 'a sentence', request_id: 'r-1' });
  }
});
