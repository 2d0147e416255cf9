// Attacks with the Host header: values that miss a `host:` route here but that an upstream building a URL
// from the Host reads as the protected host, and requests with no Host to forward. The protected host has
// its own upstream, so each test can tell which route the gateway chose, and what Host each upstream saw.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { raw } from '../helpers/http.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { parseRaw, reached } from './support.ts';

const get = (host: string | undefined, version = '1.1') =>
  `GET /x HTTP/${version}\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`;

describe('Host attacks', () => {
  let admin: Upstream;
  let pub: Upstream;
  let gw: TestGateway;

  before(async () => {
    admin = await startUpstream('admin');
    pub = await startUpstream('pub');
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: { admin: admin.url, pub: pub.url },
      routes: [
        { name: 'admin', prefix: '/', host: 'admin.example.com', upstream: 'admin', roles: ['admin'] },
        { name: 'catch-all', prefix: '/', upstream: 'pub', auth: 'public' },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await admin.close();
    await pub.close();
  });

  async function refused(text: string, code: string, what: string) {
    const { result, count } = await reached([admin, pub], () => raw(gw.port, text, 600));
    const reply = parseRaw(result);
    assert.equal(reply.status, 400, `${what}: ${JSON.stringify(result.slice(0, 120))}`);
    assert.equal(reply.body?.error, code, what);
    assert.equal(count, 0, `${what} reached an upstream (Host ${JSON.stringify(pub.received.at(-1)?.headers.host)})`);
  }

  test('a Host that URL parsers read as the protected host, but that is no host name, is refused (RFC 9112 §3.2)', async () => {
    const readAsAdmin = ['evil@admin.example.com', 'admin.example.com/x', 'admin.example.com\\x', 'admin.example.com?', 'admin.example.com#x', 'admin%2eexample.com', 'x:y@admin.example.com:80'];
    for (const host of readAsAdmin) {
      // What an upstream that builds its request URL from the Host (WHATWG URL, as Node and browsers) reads.
      assert.equal(new URL(`http://${host}/x`).hostname, 'admin.example.com', host);
      await refused(get(host), 'host_invalid', host);
    }
    for (const host of ['admin.example.com,evil', 'admin.example.com x', 'admin..example.com', '[::1', '[v1.x]', 'admin.example.com:8o', 'caf\u00e9.example.com']) {
      await refused(get(host), 'host_invalid', host);
    }
  });

  test('a number that URL parsers read as an IPv4 address must be written as four decimal octets', async () => {
    for (const host of ['127.1', '0x7f.0.0.1', '0177.0.0.1', '2130706433', '127.0.0.01', '1.2.3.4.5']) {
      await refused(get(host), 'host_invalid', host);
    }
  });

  test('an empty Host, or none on HTTP/1.0, is refused: the upstream would otherwise be sent the target\'s own host', async () => {
    await refused(get(''), 'host_missing', 'empty Host');
    await refused(get(undefined, '1.0'), 'host_missing', 'HTTP/1.0 without Host');
    await refused(get(undefined), 'host_missing', 'HTTP/1.1 without Host');
  });

  test('control: host names, addresses and ports in every allowed form are routed by host and forwarded as sent', async () => {
    for (const host of ['admin.example.com', 'admin.example.com:8080', 'ADMIN.Example.COM.', 'Admin.Example.Com.:443']) {
      const { result, count } = await reached([admin, pub], () => raw(gw.port, get(host), 600));
      assert.equal(parseRaw(result).status, 401, host);
      assert.equal(count, 0, host);
    }
    for (const host of ['www.example.com', 'my_service.internal:8080', '127.0.0.1:8080', '[::1]:8080', '[::ffff:10.0.0.1]', 'localhost:']) {
      const { result, count } = await reached([admin, pub], () => raw(gw.port, get(host), 600));
      assert.equal(parseRaw(result).status, 200, `${host}: ${result.slice(0, 120)}`);
      assert.equal(count, 1, host);
      assert.equal(pub.received.at(-1)!.headers.host, host, 'the Host is forwarded exactly as sent');
    }
  });
});
