// How a target is chosen (upstreams.X.balance): round_robin takes them in turn, least_request favours the
// target with fewer requests in flight, and hash keeps a key (the caller's sub, address, a claim or a
// header) on one target; when that target dies only its keys move, and they come back with it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configWith, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { bearer, request } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { closedAfterEach } from '../helpers/lifecycle.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { until } from '../helpers/wait.ts';

const routes = [
  { name: 'api', prefix: '/api', upstream: 'app' },
  { name: 'public', prefix: '/public', upstream: 'app', auth: 'public' },
];

let gw: TestGateway | undefined;
const closed = closedAfterEach();

async function targets(...names: string[]): Promise<Upstream[]> {
  const started = await Promise.all(names.map((name) => startUpstream(name)));
  started.forEach(closed);
  return started;
}

async function gateway(upstreams: Upstream[], options: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  gw = closed(await startTestGateway(configWith('', routes, { upstreams: { app: { targets: upstreams.map((u) => u.url), ...options } }, ...extra })));
  return gw;
}

async function servedBy(g: TestGateway, path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(g.url, path, { headers });
  assert.equal(res.status, 200, res.body);
  return res.headers['x-served-by'] as string;
}

const tokenFor = (sub: string, claims: Record<string, unknown> = {}) => sign({ iss: 'test', aud: 'api', sub, ...claims });

/** How many requests each target served, by name. */
function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('balance', () => {
  test('round_robin (the default) takes the targets in turn', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, {});
    const served = [];
    for (let i = 0; i < 6; i++) served.push(await servedBy(g, '/public/x'));
    assert.deepEqual(tally(served), { a: 2, b: 2, c: 2 });
  });

  test('least_request sends new requests to the target that is not busy', async () => {
    const ups = await targets('a', 'b');
    const held: (() => void)[] = [];
    for (const u of ups) {
      const name = u === ups[0] ? 'a' : 'b';
      u.handle((req, res) => {
        const answer = () => res.writeHead(200, { 'x-served-by': name }).end();
        if (req.url === '/public/slow') held.push(answer);
        else answer();
      });
    }
    const g = await gateway(ups, { balance: 'least_request' });
    const slow = request(g.url, '/public/slow');
    await until(() => held.length === 1, 'the slow request to reach a target');
    const busy = ups.find((u) => u.received.some((r) => r.url === '/public/slow'))!;
    const busyName = busy === ups[0] ? 'a' : 'b';
    const served = [];
    for (let i = 0; i < 6; i++) served.push(await servedBy(g, '/public/fast'));
    assert.ok(!served.includes(busyName), `the busy target got requests: ${served.join(',')}`);
    held[0]!();
    assert.equal((await slow).status, 200);
    // Once it is free again, both share the load.
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await servedBy(g, '/public/fast'));
    assert.deepEqual(tally(after), { a: 2, b: 2 });
  });

  test('hash on sub keeps each user on one target; when that target dies only its users move, and they come back with it', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, {
      balance: 'hash',
      hash_key: 'sub',
      health_check: { path: '/healthz', interval: '200ms', timeout: '200ms', unhealthy_threshold: 2, healthy_threshold: 1 },
    });
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await tokenFor(u)] as const)));
    const placement = async () => {
      const placed = new Map<string, string>();
      for (const user of users) placed.set(user, await servedBy(g, '/api/me', bearer(tokens.get(user)!)));
      return placed;
    };
    const first = await placement();
    assert.deepEqual(await placement(), first, 'each user stays on its target');
    assert.equal(new Set(first.values()).size, 3, 'users are spread over every target');

    const [, , c] = ups;
    const cPort = c!.port;
    await c!.close();
    await until(() => g.logs.some((l) => l.msg?.startsWith('upstream target failed its health checks') === true && l.target === `127.0.0.1:${cPort}`), 'c to be taken out');
    const without = await placement();
    for (const user of users) {
      if (first.get(user) === 'c') assert.notEqual(without.get(user), 'c');
      else assert.equal(without.get(user), first.get(user), `${user} moved although its target is up`);
    }

    closed(await startUpstream('c', cPort));
    await until(() => g.logs.some((l) => l.msg === 'upstream target healthy again' && l.target === `127.0.0.1:${cPort}`), 'c to come back');
    assert.deepEqual(await placement(), first, 'c\'s users are back on c, the others never moved');
  });

  test('hash on header:<Name> keeps a tenant on one target; a request without the header is spread round robin', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, { balance: 'hash', hash_key: 'header:X-Tenant' });
    const seen = new Set<string>();
    for (let t = 0; t < 12; t++) {
      const first = await servedBy(g, '/public/x', { 'x-tenant': `tenant-${t}` });
      for (let i = 0; i < 3; i++) assert.equal(await servedBy(g, '/public/x', { 'x-tenant': `tenant-${t}` }), first);
      seen.add(first);
    }
    assert.ok(seen.size >= 2, 'tenants are spread');
    const keyless = [];
    for (let i = 0; i < 3; i++) keyless.push(await servedBy(g, '/public/x'));
    assert.deepEqual(tally(keyless), { a: 1, b: 1, c: 1 });
  });

  test('hash on ip keeps a client address on one target (X-Forwarded-For only from a trusted proxy)', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, { balance: 'hash', hash_key: 'ip' }, { server: { host: '127.0.0.1', trust_proxy: ['127.0.0.1'] } });
    const seen = new Set<string>();
    for (let n = 1; n <= 12; n++) {
      const client = { 'x-forwarded-for': `203.0.113.${n}` };
      const first = await servedBy(g, '/public/x', client);
      for (let i = 0; i < 3; i++) assert.equal(await servedBy(g, '/public/x', client), first);
      seen.add(first);
    }
    assert.ok(seen.size >= 2, 'client addresses are spread');
  });

  test('hash on an untrusted client\'s ip ignores its X-Forwarded-For: one client, one target', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, { balance: 'hash', hash_key: 'ip' });
    const served = new Set<string>();
    for (let n = 1; n <= 9; n++) served.add(await servedBy(g, '/public/x', { 'x-forwarded-for': `203.0.113.${n}` }));
    assert.equal(served.size, 1);
  });

  test('hash on claim:<path> keeps every user of an organization on one target', async () => {
    const ups = await targets('a', 'b', 'c');
    const g = await gateway(ups, { balance: 'hash', hash_key: 'claim:org.id' });
    const seen = new Set<string>();
    for (let o = 0; o < 12; o++) {
      const placed = new Set<string>();
      for (let u = 0; u < 3; u++) placed.add(await servedBy(g, '/api/x', bearer(await tokenFor(`u${o}-${u}`, { org: { id: `org-${o}` } }))));
      assert.equal(placed.size, 1, `org-${o}'s users are on one target`);
      seen.add([...placed][0]!);
    }
    assert.ok(seen.size >= 2, 'organizations are spread');
  });
});
