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
    rate_limits: { 'per-route': { requests, per: '1m', key: 'route' } },
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

  const burst = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => request(cluster.base, `/r${i}`).then((r) => r.status)));
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
    // 60 counted so far (the refused ones too): 40 more fit under the new limit of 100.
    const statuses = await burst(50);
    assert.equal(ok(statuses), 40);
  });
});
