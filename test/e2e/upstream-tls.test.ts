// HTTPS upstreams: the gateway checks the upstream's certificate against the upstream URL's host, and
// names that host in TLS (SNI), whichever Host header it forwards. The gateway runs as a child process
// so that it trusts the test certificate the way a user's gateway trusts theirs (NODE_EXTRA_CA_CERTS).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startCli, type RunningCli } from '../helpers/cli.ts';
import { request } from '../helpers/http.ts';
import { tempDir, writeFile } from '../helpers/keys.ts';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

describe('an HTTPS upstream', () => {
  const seen: { servername: string | false | null; host: string | undefined }[] = [];
  let upstream: https.Server;
  let gateway: RunningCli;
  let url: string;

  before(async () => {
    // The certificate names "localhost" only (no IP address).
    upstream = https.createServer({ cert: readFileSync(fixture('localhost-cert.pem')), key: readFileSync(fixture('localhost-key.pem')) }, (req, res) => {
      seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host });
      res.end('tls ok');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    const dir = tempDir();
    writeFile(
      dir,
      'gateway.yaml',
      stringify({
        server: { host: '127.0.0.1' },
        upstreams: { byName: `https://localhost:${port}`, byAddress: `https://127.0.0.1:${port}` },
        routes: [
          { name: 'by-name', prefix: '/name', upstream: 'byName', auth: 'public' },
          { name: 'by-address', prefix: '/address', upstream: 'byAddress', auth: 'public' },
        ],
      }),
    );
    gateway = startCli(['--config', path.join(dir, 'gateway.yaml'), '--port', '0', '--admin-port', '0'], {
      env: { NODE_EXTRA_CA_CERTS: fixture('localhost-cert.pem') },
    });
    const listening = await gateway.waitFor((line) => line.msg === 'portcullis listening');
    url = `http://127.0.0.1:${String(listening.port)}`;
  });
  after(async () => {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test("is reached with the client's Host forwarded, while TLS names and verifies the upstream's own host", async () => {
    const res = await request(url, '/name/x', { headers: { host: 'shop.example.com' } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'tls ok');
    assert.deepEqual(seen.at(-1), { servername: 'localhost', host: 'shop.example.com' });
  });

  test('whose certificate does not name the upstream host is refused with 502, and nothing is sent to it', async () => {
    const before = seen.length;
    const res = await request(url, '/address/x');
    assert.equal(res.status, 502);
    assert.equal(res.json().error, 'upstream_unavailable');
    assert.equal(seen.length, before);
  });
});
