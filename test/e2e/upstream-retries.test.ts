// Retries (upstreams.X.retries): a connection never made is tried again on another target for any method;
// a reset, a timeout or a 502/503/504 only for an idempotent request whose body has not gone upstream, and
// never once the response has started to reach the client; all of it within a budget, so that an
// upstream whose every target fails is not hit with a retry storm. Each request keeps one log line, with
// its tries and the target that answered.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { accessLogs, configWith, startTestGateway, type LogLine, type TestGateway } from '../helpers/gateway.ts';
import { request, type Response } from '../helpers/http.ts';
import { closedAfterEach } from '../helpers/lifecycle.ts';
import { startUpstream, unusedPort, type Upstream } from '../helpers/upstream.ts';
import { sample, until } from '../helpers/wait.ts';

const routes = [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }];

const closed = closedAfterEach();

async function upstreamNamed(name: string): Promise<Upstream> {
  const upstream = await startUpstream(name);
  closed(upstream);
  return upstream;
}

async function gateway(targets: string[], options: Record<string, unknown>): Promise<TestGateway> {
  return closed(await startTestGateway(configWith('', routes, { upstreams: { app: { targets, ...options } } })));
}

/** Whether `other` ever received the request `target` received last. */
function alsoReached(other: Upstream, target: Upstream): boolean {
  const last = target.received.at(-1)!;
  return other.received.some((r) => r.url === last.url && r.method === last.method);
}

/** A target that hangs up on every request before answering. */
async function resetting(): Promise<Upstream> {
  const upstream = await upstreamNamed('resetting');
  upstream.handle((req) => req.socket.destroy());
  return upstream;
}

/**
 * Sends requests, each to a path of its own, until one reaches `target` first (targets are taken in turn),
 * and returns that one's response: what a client sees when its request lands on that target.
 */
let sent = 0;
async function landingOn(target: Upstream, send: (path: string) => Promise<Response>): Promise<Response> {
  for (let i = 0; i < 4; i++) {
    const before = target.received.length;
    const res = await send(`/r${sent++}`);
    if (target.received.length > before) return res;
  }
  return assert.fail('no request reached the target');
}

const lastLine = (g: TestGateway): LogLine => accessLogs(g.logs).at(-1)!;
const label = (u: Upstream) => `127.0.0.1:${u.port}`;

async function retriesCounted(g: TestGateway, reason: string): Promise<number> {
  return sample((await request(g.adminUrl, '/metrics')).body, 'portcullis_upstream_retries_total', `upstream="app",reason="${reason}"`);
}

describe('retries', () => {
  test('a refused connection is retried on the other target: 200, two tries in the log, counted as connect_failure', async () => {
    const live = await upstreamNamed('live');
    const refused = `http://127.0.0.1:${await unusedPort()}`;
    const g = await gateway([refused, live.url], { retries: { attempts: 1 } });
    for (let i = 0; i < 3; i++) {
      const res = await request(g.url, `/item/${i}`);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers['x-served-by'], 'live');
    }
    const lines = accessLogs(g.logs);
    const retried = lines.filter((l) => l.upstream_attempts === 2);
    assert.ok(retried.length >= 1, JSON.stringify(lines));
    for (const line of retried) {
      assert.equal(line.upstream_target, label(live), 'the log names the target that answered');
      assert.equal(line.upstream_error, 'ECONNREFUSED', 'and why the first try failed');
      assert.equal(line.status, 200);
    }
    assert.equal(await retriesCounted(g, 'connect_failure'), retried.length);
  });

  test('a retry does not move the rotation: with one of two targets refusing, it still gets only every other first try', async () => {
    const live = await upstreamNamed('live');
    const g = await gateway([`http://127.0.0.1:${await unusedPort()}`, live.url], { retries: { attempts: 1 } });
    // Before: the retry that landed on the live target moved the rotation back to the refusing one, which
    // then had the first try of every request, and the retry budget (3 here) ran out after 3 requests.
    for (let i = 0; i < 6; i++) assert.equal((await request(g.url, `/r/${i}`)).status, 200);
    assert.equal(await retriesCounted(g, 'connect_failure'), 3);
  });

  test('a POST whose connection was refused is retried with its whole body (nothing had been sent)', async () => {
    const live = await upstreamNamed('live');
    const g = await gateway([`http://127.0.0.1:${await unusedPort()}`, live.url], { retries: { attempts: 1 } });
    for (let i = 0; i < 2; i++) {
      const res = await request(g.url, '/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `order ${i}` });
      assert.equal(res.status, 200, res.body);
    }
    assert.deepEqual(live.received.map((r) => `${r.method} ${r.body}`), ['POST order 0', 'POST order 1']);
    assert.ok(accessLogs(g.logs).some((l) => l.upstream_attempts === 2));
  });

  test('a GET or DELETE reset before any answer is retried on the other target', async () => {
    const live = await upstreamNamed('live');
    const resetter = await resetting();
    const g = await gateway([resetter.url, live.url], { retries: { attempts: 1 } });
    for (const method of ['GET', 'DELETE']) {
      const res = await landingOn(resetter, (path) => request(g.url, path, { method }));
      assert.equal(res.status, 200, `${method}: ${res.body}`);
      assert.equal(res.headers['x-served-by'], 'live');
      assert.equal(lastLine(g).upstream_attempts, 2);
      assert.equal(lastLine(g).upstream_target, label(live));
      assert.ok(alsoReached(live, resetter));
    }
    assert.equal(await retriesCounted(g, 'reset'), 2);
  });

  test('a PUT or DELETE declaring an empty body (Content-Length: 0) is retried too: there is nothing to send again', async () => {
    const live = await upstreamNamed('live');
    const resetter = await resetting();
    const g = await gateway([resetter.url, live.url], { retries: { attempts: 1 } });
    for (const method of ['PUT', 'DELETE']) {
      // Before: the empty body was read as a stream, and a body that was read is never sent again.
      const res = await landingOn(resetter, (path) => request(g.url, path, { method, headers: { 'content-length': '0' } }));
      assert.equal(res.status, 200, `${method}: ${res.body}`);
      assert.equal(lastLine(g).upstream_attempts, 2);
      const received = live.received.at(-1)!;
      assert.equal(received.method, method);
      assert.equal(received.body, '');
    }
    assert.equal(live.received.find((r) => r.method === 'PUT')!.headers['content-length'], '0', 'a PUT still says its body is empty');
  });

  test('a POST reset before any answer is not retried, with or without a body: 502, and the other target never sees it', async () => {
    const live = await upstreamNamed('live');
    const resetter = await resetting();
    const g = await gateway([resetter.url, live.url], { retries: { attempts: 2 } });
    for (const body of [undefined, 'pay 10 EUR']) {
      const res = await landingOn(resetter, (path) => request(g.url, path, { method: 'POST', ...(body !== undefined ? { body } : {}) }));
      assert.equal(res.status, 502, res.body);
      assert.equal(res.json().error, 'upstream_unavailable');
      assert.equal(lastLine(g).upstream_attempts, 1);
      assert.equal(lastLine(g).upstream_error, 'ECONNRESET');
      assert.ok(!alsoReached(live, resetter), 'the POST was not sent again');
    }
    assert.equal(await retriesCounted(g, 'reset'), 0);
  });

  test('a PUT with a small body (read whole by the gateway) is retried after a reset, with the same body', async () => {
    const live = await upstreamNamed('live');
    const resetter = await resetting();
    const g = await gateway([resetter.url, live.url], { retries: { attempts: 1 } });
    const res = await landingOn(resetter, (path) => request(g.url, path, { method: 'PUT', body: 'v2' }));
    assert.equal(res.status, 200, res.body);
    assert.equal(lastLine(g).upstream_attempts, 2);
    assert.ok(alsoReached(live, resetter), 'the PUT was sent again, to the other target');
    assert.equal(live.received.at(-1)!.body, 'v2', 'with the body the client sent');
  });

  test('a PUT whose streamed body (over 64 KB) went to a target that then reset is not retried: it can not be sent again', async () => {
    const live = await upstreamNamed('live');
    const resetter = await resetting();
    const g = await gateway([resetter.url, live.url], { retries: { attempts: 1 } });
    const big = 'x'.repeat(70 * 1024);
    const res = await landingOn(resetter, (path) => request(g.url, path, { method: 'PUT', body: big }));
    assert.equal(res.status, 502, res.body);
    assert.equal(lastLine(g).upstream_attempts, 1);
    assert.ok(!alsoReached(live, resetter), 'the PUT was not sent again');
  });

  test('a response cut off after its first bytes is never retried: the client\'s connection is cut, the log says upstream_reset', async () => {
    const live = await upstreamNamed('live');
    const cutting = await upstreamNamed('cutting');
    cutting.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const g = await gateway([cutting.url, live.url], { retries: { attempts: 2 } });
    let outcome: { status: number; complete: boolean } | undefined;
    for (let i = 0; i < 4 && cutting.received.length === 0; i++) outcome = await getMaybeCut(`${g.url}/stream/${i}`);
    assert.equal(cutting.received.length, 1);
    assert.deepEqual(outcome, { status: 200, complete: false });
    await until(() => accessLogs(g.logs).some((l) => l.reason === 'upstream_reset'), 'the log line of the cut response');
    const line = accessLogs(g.logs).find((l) => l.reason === 'upstream_reset')!;
    assert.equal(line.upstream_attempts, 1);
    assert.equal(live.received.filter((r) => r.url === cutting.received[0]!.url).length, 0, 'the live target never got the cut request');
  });

  test('a 503 answer is retried for a GET on the other target, and passed on as it is for a POST', async () => {
    const live = await upstreamNamed('live');
    const busy = await upstreamNamed('busy');
    busy.handle((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': 'busy' });
      res.end('busy, come back later');
    });
    const g = await gateway([busy.url, live.url], { retries: { attempts: 1, on: [503] } });
    const get = await landingOn(busy, (path) => request(g.url, path));
    assert.equal(get.status, 200);
    assert.equal(get.headers['x-served-by'], 'live');
    assert.equal(await retriesCounted(g, '503'), 1);
    const post = await landingOn(busy, (path) => request(g.url, path, { method: 'POST', body: 'x' }));
    assert.equal(post.status, 503);
    assert.equal(post.body, 'busy, come back later', 'the upstream\'s own answer');
    assert.equal(await retriesCounted(g, '503'), 1);
  });

  test('a target slower than per_try_timeout: a GET is tried again on the other target, a POST gets 504', async () => {
    const live = await upstreamNamed('live');
    const hanging = await upstreamNamed('hanging');
    hanging.handle(() => {}); // never answers
    const g = await gateway([hanging.url, live.url], { retries: { attempts: 1, per_try_timeout: '500ms' } });
    const get = await landingOn(hanging, (path) => request(g.url, path));
    assert.equal(get.status, 200);
    assert.equal(get.headers['x-served-by'], 'live');
    assert.equal(await retriesCounted(g, '504'), 1);
    const post = await landingOn(hanging, (path) => request(g.url, path, { method: 'POST', body: 'x' }));
    assert.equal(post.status, 504);
    assert.equal(post.json().error, 'upstream_timeout');
  });

  test('the retry budget stops a retry storm when every target fails: retries stay a small share of requests', async () => {
    const a = await upstreamNamed('a');
    const b = await upstreamNamed('b');
    for (const u of [a, b]) u.handle((_req, res) => res.writeHead(503).end('down'));
    const g = await gateway([a.url, b.url], { retries: { attempts: 2, budget: '20%' } });
    const requests = 30;
    for (let i = 0; i < requests; i++) assert.equal((await request(g.url, `/r/${i}`)).status, 503);
    const hits = a.received.length + b.received.length;
    // Without a budget every request would be tried 3 times (90 hits). With 20%, retries stay within
    // max(3, 20% of the requests so far): 6 after 30 requests.
    assert.ok(hits >= requests + 3 && hits <= requests + 6, `${hits} upstream hits for ${requests} requests`);
    assert.equal(await retriesCounted(g, '503'), hits - requests);
  });

  test('without retries (the default), a refused connection is the client\'s 502 at once', async () => {
    const live = await upstreamNamed('live');
    const g = await gateway([`http://127.0.0.1:${await unusedPort()}`, live.url], {});
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await request(g.url, '/x')).status);
    assert.deepEqual(statuses.sort(), [200, 502]);
    assert.ok(accessLogs(g.logs).every((l) => l.upstream_attempts === 1));
  });
});

/** A GET whose response may be cut off: its status and whether the body came complete. */
function getMaybeCut(url: string): Promise<{ status: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
    });
    req.on('error', reject);
  });
}
