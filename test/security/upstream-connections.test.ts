// The gateway's own upstream connections can not be turned against the next client: bytes an upstream
// sends on an idle pooled connection (a response to a request smuggled past some other defence) close that
// connection instead of becoming the next client's response (response poisoning, what HAProxy and nginx
// also refuse); and an Expect header with more than "100-continue" in it never leaves a client hanging.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { configWith, startTestGateway } from '../helpers/gateway.ts';
import { raw, request } from '../helpers/http.ts';
import { startScriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { parseRaw } from './support.ts';

const response = (body: string) => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

for (const when of ['with the response', 'later, on the idle connection'] as const) {
  test(`bytes an upstream sends after its response (${when}) never become the next client's response`, async () => {
    const upstream = await startScriptedUpstream((head, socket, n) => {
      const path = head.split(' ')[1]!;
      if (n === 0) {
        // The answer, then a second response nobody asked for: what a smuggled request would have produced.
        if (when === 'with the response') socket.write(response(`first ${path}`) + response('POISON'));
        else {
          socket.write(response(`first ${path}`));
          setTimeout(() => socket.write(response('POISON')), 50);
        }
      } else socket.write(response(`fresh ${path}`));
    });
    const gw = await startTestGateway(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]));
    try {
      assert.equal((await request(gw.url, '/one')).body, 'first /one');
      await new Promise((r) => setTimeout(r, 150));
      for (const path of ['/two', '/three']) {
        const res = await request(gw.url, path);
        assert.equal(res.status, 200);
        assert.equal(res.body, `fresh ${path}`, 'the next client gets its own answer, never the unsolicited one');
      }
      assert.ok(upstream.connections() >= 2, 'the connection that carried the extra bytes was not used again');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test('Expect: 100-continue among other tokens is answered like the plain value (100, then the answer), never left hanging', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway(configWith(upstream.url, [{ name: 'all', prefix: '/', upstream: 'app', auth: 'public' }]));
  try {
    for (const expect of ['100-continue', '100-Continue, foo', 'foo, 100-continue']) {
      const head = `POST /upload HTTP/1.1\r\nHost: gw\r\nExpect: ${expect}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
      // The body is sent only after the 100, as a client that honours Expect does.
      const reply = await new Promise<string>((resolve) => {
        const socket = net.connect(gw.port, '127.0.0.1');
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString('latin1');
          if (text.startsWith('HTTP/1.1 100 ') && text.includes('\r\n\r\n') && text.indexOf('HTTP/1.1', 1) === -1) socket.write('hello');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
        setTimeout(() => socket.destroy(), 1500);
        socket.write(head);
      });
      assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, `${expect}: ${JSON.stringify(reply.slice(0, 80))}`);
      assert.equal(upstream.received.at(-1)!.body, 'hello');
      assert.equal(upstream.received.at(-1)!.headers.expect, undefined, 'Expect is hop-by-hop: the gateway answered it');
    }
    // An expectation the gateway can not meet is refused at once (RFC 9110 §10.1.1), not left waiting.
    const refused = await raw(gw.port, 'POST /upload HTTP/1.1\r\nHost: gw\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n', 800);
    assert.equal(parseRaw(refused).status, 417);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
