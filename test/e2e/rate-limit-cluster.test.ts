// server.workers with rate_limit_store: memory: the primary counts for every worker, so two workers admit
// the configured limit, not twice it, and a reload that changes the policy applies in every worker.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startClusterGateway, type ClusterGateway } from '../helpers/cluster.ts';
import { configWith } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const config = (upstreamUrl: string, requests: number) =>
  configWith(upstreamUrl, [{ name: 'limited', prefix: '/', upstream: 'app', auth: 'public', rate_limit: 'per-route' }], {
    server: { workers: 2 },
    rate_limits: { 'per-route': { requests, per: '1h', key: 'route' } },
  });

describe('rate limits with server.workers: 2', () => {
  let upstream: Upstream;
  let cluster: ClusterGateway;

  before(async () => {
    upstream = await startUpstream();
    cluster = await startClusterGateway(config(upstream.url, 20));
  });
  after(async () => {
    await cluster.close();
    await upstream.close();
  });

  const send = (n: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => request(cluster.base, `/r${i}`, { headers: { 'x-request-id': `${tag}-${i}` } })));
  const burst = async (n: number) => (await send(n, 'burst')).map((r) => r.status);
  const ok = (statuses: number[]) => statuses.filter((s) => s === 200).length;
  const servingPids = () => new Set(cluster.gw.lines.filter((l) => l.msg === 'request').map((l) => l.pid));

  test('two workers admit exactly the configured limit between them', async () => {
    const statuses = await burst(60);
    assert.equal(ok(statuses), 20);
    assert.equal(statuses.filter((s) => s === 429).length, 40);
    assert.equal(upstream.received.length, 20);
    await cluster.until(() => servingPids().size === 2);
    const metrics = (await request(cluster.admin, '/metrics')).body;
    assert.match(metrics, /portcullis_rate_limited_total\{route="limited",policy="per-route"\} 40/);
  });

  test('a reload that changes the policy takes effect in every worker, on the counts already made', async () => {
    const outcome = cluster.nextReloadOutcome();
    writeFileSync(cluster.file, stringify(config(upstream.url, 100)));
    assert.equal((await outcome).msg, 'config reloaded in every worker');
    // 20 counted so far (a refused request is not counted): 80 more fit under the new limit of 100.
    const responses = await send(100, 'reloaded');
    assert.equal(ok(responses.map((r) => r.status)), 80);
    assert.ok(responses.every((r) => r.headers['ratelimit-policy'] === '"per-route";q=100;w=3600'), 'every worker announces the new policy');
    // And every worker counted by it: both served some of these requests.
    const servedBy = (tag: string) => new Set(cluster.gw.lines.filter((l) => String(l.req_id).startsWith(tag)).map((l) => l.pid));
    await cluster.until(() => servedBy('reloaded-').size === 2);
  });
});
