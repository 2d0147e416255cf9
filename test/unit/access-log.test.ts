// The access log: valid JSON lines in pino's shape, escaping only what needs it, batched (64 KB or a
// second) so that writing a line costs the request little.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AccessLog, type AccessEntry } from '../../src/server/access-log.ts';
import { createLogger } from '../../src/server/logger.ts';

const entry = (over: Partial<AccessEntry> = {}): AccessEntry => ({
  id: 'r-1', method: 'GET', path: '/api/orders/1', route: 'orders', upstream: 'app', subject: 'alice', reason: undefined,
  upstreamError: undefined, upstreamAttempts: 1, upstreamTarget: '127.0.0.1:4001', client: '127.0.0.1', ...over,
});

function capture(batch: boolean) {
  const writes: string[] = [];
  const log = new AccessLog(createLogger('info', { write: (text: string) => void writes.push(text) }), batch);
  const lines = () => writes.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, writes, lines };
}

describe('access log', () => {
  test('a line has the fields an operator needs, in the shape of every pino line', () => {
    const { log, lines } = capture(false);
    log.write(entry({ reason: 'insufficient_role', upstream: undefined, upstreamTarget: undefined }), 403, 1500, true);
    const [line] = lines();
    assert.equal(line!.level, 'info');
    assert.equal(line!.msg, 'request');
    assert.equal(typeof line!.time, 'number');
    assert.equal(line!.pid, process.pid);
    assert.deepEqual(
      { req_id: line!.req_id, method: line!.method, path: line!.path, route: line!.route, status: line!.status, duration_ms: line!.duration_ms, sub: line!.sub, reason: line!.reason, client: line!.client, aborted: line!.aborted },
      { req_id: 'r-1', method: 'GET', path: '/api/orders/1', route: 'orders', status: 403, duration_ms: 1.5, sub: 'alice', reason: 'insufficient_role', client: '127.0.0.1', aborted: true },
    );
    assert.equal('upstream' in line!, false);
    assert.equal('upstream_target' in line!, false);
  });

  test('a path or sub with quotes, backslashes, control characters or non-ASCII stays valid JSON', () => {
    const { log, lines } = capture(false);
    const nasty = 'a"b\\c\nd\u0000é\u2028';
    log.write(entry({ path: nasty, subject: nasty }), 200, 1000, false);
    const [line] = lines();
    assert.equal(line!.path, nasty);
    assert.equal(line!.sub, nasty);
  });

  test('lines are batched: nothing is written until 64 KB have gathered, then all at once', () => {
    const { log, writes, lines } = capture(true);
    log.write(entry(), 200, 1000, false);
    assert.equal(writes.length, 0);
    while (writes.length === 0) log.write(entry(), 200, 1000, false);
    assert.equal(writes.length, 1);
    assert.ok(writes[0]!.length >= 64 * 1024);
    assert.ok(lines().length > 200);
    log.flush();
  });

  test('a partial batch is written within a second, and at once on flush', async () => {
    const { log, writes, lines } = capture(true);
    log.write(entry({ id: 'r-a' }), 200, 1000, false);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(lines().map((l) => l.req_id), ['r-a']);
    log.write(entry({ id: 'r-b' }), 200, 1000, false);
    log.flush();
    assert.equal(writes.length, 2);
    assert.deepEqual(lines().map((l) => l.req_id), ['r-a', 'r-b']);
  });
});

test('durations are written as milliseconds with three decimals, from whole microseconds', async () => {
  const { milliseconds } = await import('../../src/server/access-log.ts');
  assert.deepEqual([0, 7, 42, 999, 1000, 1500, 12345, 3_600_000_001].map(milliseconds), ['0.000', '0.007', '0.042', '0.999', '1.000', '1.500', '12.345', '3600000.001']);
});
