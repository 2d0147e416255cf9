// Body framing Node's parser lets through but an upstream could read another way: an empty Transfer-Encoding
// element, or Transfer-Encoding beside Content-Length. The upstream here is a bare TCP port that records
// every byte, so "reached nobody" means not one byte was sent, whatever a lenient parser would have made
// of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { raw } from '../helpers/http.ts';
import { parseRaw, startRawUpstream, type RawUpstream } from './support.ts';

/** The request an attacker hopes the upstream will read as a second one, past every check. */
const SMUGGLED = 'GET /admin/secrets HTTP/1.1\r\nHost: gw\r\nX-User-Id: admin\r\nX-User-Roles: admin\r\nContent-Length: 0\r\n\r\n';
const chunkOf = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;
const CHUNKED = `${chunkOf(SMUGGLED)}0\r\n\r\n`;

describe('framing attacks', () => {
  let upstream: RawUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRawUpstream();
    gw = await startTestGateway({
      server: { host: '127.0.0.1' },
      providers: [TEST_PROVIDER],
      upstreams: { app: upstream.url },
      routes: [{ name: 'open', prefix: '/', upstream: 'app', auth: 'public' }],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** Sends the bytes; asserts the gateway's JSON 400 (or `status`) with `code`, a closed connection, and no byte upstream. */
  async function refused(text: string, code: string, what: string, status = 400) {
    const before = upstream.received().length;
    const reply = await raw(gw.port, text, 600);
    await new Promise((r) => setTimeout(r, 20));
    const parsed = parseRaw(reply);
    assert.equal(parsed.status, status, `${what}: ${JSON.stringify(reply.slice(0, 120))}`);
    assert.equal(parsed.body?.error, code, what);
    assert.match(parsed.headers, /^connection: close$/im, `${what}: the connection is closed after the refusal`);
    assert.equal(upstream.received().slice(before), '', `${what}: bytes reached the upstream`);
  }

  test('Transfer-Encoding with an empty value next to Content-Length is refused, and no byte reaches the upstream', async () => {
    await refused(`POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: \r\nContent-Length: ${CHUNKED.length}\r\n\r\n${CHUNKED}`, 'framing_conflict', 'TE "" then CL');
  });

  test('a Transfer-Encoding with an empty element ("chunked, " from two lines, ", chunked", "") is refused, and no byte reaches the upstream', async () => {
    const cases: [string, string][] = [
      ['a chunked line and an empty one (joined as "chunked, ")', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: \r\n'],
      ['an empty line and a chunked one (joined as ", chunked")', 'Transfer-Encoding: \r\nTransfer-Encoding: chunked\r\n'],
      ['", chunked" on one line', 'Transfer-Encoding: , chunked\r\n'],
    ];
    for (const [what, te] of cases) await refused(`POST /x HTTP/1.1\r\nHost: gw\r\n${te}\r\n${CHUNKED}`, 'framing_empty_encoding', what);
    await refused('GET /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: \r\n\r\n', 'framing_empty_encoding', 'an empty Transfer-Encoding alone');
  });

  test('an HTTP/1.0 request with Transfer-Encoding is refused and its connection closed: the request after its chunked body never runs', async () => {
    // HTTP/1.0 has no Transfer-Encoding (RFC 9112 §6.1): a 1.0 reader in front of the gateway sees the
    // chunked body as data, and the request inside it as none it has checked. nginx answers 400.
    for (const connection of ['Connection: keep-alive\r\n', '']) {
      await refused(`POST /x HTTP/1.0\r\nHost: gw\r\n${connection}Transfer-Encoding: chunked\r\n\r\n${chunkOf('hello')}0\r\n\r\n${SMUGGLED}`, 'framing_http10_encoding', `HTTP/1.0 ${connection.trim()}`);
    }
  });

  test('a transfer coding under chunked ("gzip, chunked") is refused with 501: its body would reach the upstream as another one', async () => {
    // Node takes off the chunked coding and the forwarder frames the body itself: the gzip coding would be
    // lost, and the upstream would read the compressed bytes as the body. nginx answers 501, HAProxy 422.
    for (const te of ['gzip, chunked', 'identity, chunked', 'x-custom, chunked', 'gzip\r\nTransfer-Encoding: chunked']) {
      await refused(`POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: ${te}\r\n\r\n${CHUNKED}`, 'framing_unsupported_encoding', te, 501);
    }
  });

  test('control: a well-framed chunked request still reaches the upstream, re-framed', async () => {
    const before = upstream.received().length;
    const reply = await raw(gw.port, `POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n${chunkOf('hello')}0\r\n\r\n`, 600);
    assert.match(reply, /^HTTP\/1\.1 200 /, 'chunked in any letter case');
    const seen = upstream.received().slice(before);
    assert.match(seen, /^POST \/x HTTP\/1\.1\r\n/);
    // Framed one way only: chunked as it came, or by its length once the whole body is in hand.
    const chunked = /\r\ntransfer-encoding: chunked\r\n/i.test(seen);
    const length = /\r\ncontent-length: 5\r\n/i.test(seen);
    assert.ok(chunked !== length, `exactly one framing: ${JSON.stringify(seen.slice(0, 300))}`);
    assert.ok(seen.endsWith(chunked ? `${chunkOf('hello')}0\r\n\r\n` : '\r\n\r\nhello'), 'and the body as sent');
  });
});
