// Attacks on the routes: no path trick may reach a protected route's upstream without its token. The
// protected routes have their own upstream ("admin"); the public ones share another ("pub"), so every test
// can tell which route the gateway chose from which upstream saw the request, and in what form.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, TEST_PROVIDER, type TestGateway } from '../helpers/gateway.ts';
import { bearer, raw, request, type Response } from '../helpers/http.ts';
import { sign } from '../helpers/keys.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { assertRefused, goodClaims, parseRaw, reached } from './support.ts';

function gatewayConfig(adminUrl: string, pubUrl: string, server: Record<string, unknown> = {}, protectedRoutes: object[] = []) {
  return {
    server: { host: '127.0.0.1', ...server },
    providers: [TEST_PROVIDER],
    forward: { headers: { 'X-User-Id': 'sub', 'X-User-Roles': 'roles' } },
    upstreams: { admin: adminUrl, pub: pubUrl },
    routes: [
      { name: 'admin', prefix: '/admin', upstream: 'admin', roles: ['admin'] },
      { name: 'order', path: '/api/orders/:id', upstream: 'admin' },
      { name: 'settings', path: '/settings/', upstream: 'admin', roles: ['admin'] },
      ...protectedRoutes,
      { name: 'public', prefix: '/public', upstream: 'pub', auth: 'public' },
      { name: 'svc', prefix: '/svc', upstream: 'pub', auth: 'public', strip_prefix: true },
      { name: 'catch-all', prefix: '/', upstream: 'pub', auth: 'public' },
    ],
  };
}

describe('path attacks', () => {
  let admin: Upstream;
  let pub: Upstream;
  let gw: TestGateway;
  let adminToken: string;

  before(async () => {
    admin = await startUpstream('admin');
    pub = await startUpstream('pub');
    gw = await startTestGateway(gatewayConfig(admin.url, pub.url));
    adminToken = await sign(goodClaims({ roles: ['admin'] }));
  });
  after(async () => {
    await gw.close();
    await admin.close();
    await pub.close();
  });

  /** The request as given; how many requests each upstream received because of it. */
  async function send(path: string, headers: Record<string, string> = {}): Promise<{ res: Response; toAdmin: number; toPub: number }> {
    const a = admin.received.length;
    const { result, count } = await reached([admin, pub], () => request(gw.url, path, { headers }));
    return { res: result, toAdmin: admin.received.length - a, toPub: count - (admin.received.length - a) };
  }

  /** Refused with `status`/`code`, and neither upstream saw anything. */
  async function refused(path: string, status: number, code: string | RegExp) {
    const { res, toAdmin, toPub } = await send(path);
    assertRefused(res, status, code, toAdmin + toPub, path);
  }

  /** Bytes on a socket, for what no HTTP client would send; neither upstream may see anything. */
  async function refusedRaw(text: string, status: number, code?: string) {
    const { result, count } = await reached([admin, pub], () => raw(gw.port, text, 500));
    const reply = parseRaw(result);
    assert.equal(reply.status, status, `${JSON.stringify(text.slice(0, 40))}: ${result.slice(0, 120)}`);
    if (code !== undefined) assert.equal(reply.body?.error, code, JSON.stringify(text.slice(0, 40)));
    assert.equal(count, 0, `${JSON.stringify(text.slice(0, 40))} reached an upstream`);
  }

  const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`;

  test('dot segments are resolved before matching: /public/../admin needs the admin token', async () => {
    for (const path of ['/public/../admin', '/public/../admin/x', '/public/./../admin/', '/x/y/../../admin', '/admin/x/..', '/public/..//admin']) {
      await refused(path, 401, 'token_missing');
    }
    const { res, toAdmin } = await send('/public/../admin/users/./1', bearer(adminToken));
    assert.equal(res.status, 200);
    assert.equal(toAdmin, 1);
    assert.equal(admin.received.at(-1)!.url, '/admin/users/1', 'the upstream receives the resolved form');
  });

  test('encoded dot segments (%2e, %2E, .%2e, %2e.) are resolved before matching', async () => {
    for (const path of ['/public/%2e%2e/admin', '/public/%2E%2E/admin', '/public/.%2e/admin', '/public/%2e./admin', '/public/%2e/%2e%2e/admin/x']) {
      await refused(path, 401, 'token_missing');
    }
  });

  test('double encoding (%252e, %252f) is refused', async () => {
    for (const path of ['/public/%252e%252e/admin', '/public/%252E%252E/admin', '/public%252fadmin', '/public/%25%32%65%25%32%65/admin']) {
      await refused(path, 400, 'path_double_encoding');
    }
  });

  test('encoded slashes are refused', async () => {
    for (const path of ['/public%2f..%2fadmin', '/public%2F..%2Fadmin', '/admin%2fx', '/%2fadmin']) await refused(path, 400, 'path_encoded_slash');
  });

  test('backslashes, raw and encoded, are refused', async () => {
    for (const path of ['/public\\..\\admin', '/public/..\\admin', '/public%5c..%5cadmin', '/public/%5C../admin']) await refused(path, 400, 'path_backslash');
  });

  test('..; matrix parameters (Tomcat-style upstreams) are refused', async () => {
    for (const path of ['/public/..;/admin', '/public/..;x=1/admin', '/public/.;/admin', '/public/%2e%2e;/admin', '/public/..%3b/admin']) {
      await refused(path, 400, 'path_dot_parameter');
    }
  });

  test('any ; matrix parameter is refused: Tomcat reads /admin;x and /;/admin as /admin', async () => {
    for (const path of ['/admin;x', '/admin;jsessionid=1/users', '/;/admin', '/public;/admin', '/adm;in', '/admin%3bx', '/admin%3Bx']) {
      await refused(path, 400, 'path_parameter');
    }
  });

  test('an encoded "?" or "#" (%3F, %23) is refused: an upstream that decodes and parses again reads /admin%3F/x as /admin', async () => {
    for (const path of ['/admin%3F/x', '/admin%3f', '/admin%23/x', '/admin%23', '/public/a%3Fb', '/%3F/admin', '/public%23/../x']) {
      await refused(path, 400, 'path_encoded_delimiter');
    }
    // The query keeps its own escapes: it is forwarded as sent and never takes part in matching.
    const { res, toPub } = await send('/public/x?next=%3F%23');
    assert.equal(res.status, 200);
    assert.equal(toPub, 1);
    assert.equal(pub.received.at(-1)!.url, '/public/x?next=%3F%23');
  });

  test('an exact route written with a trailing slash (path: /settings/) also guards the path without it, as Express serves both', async () => {
    for (const path of ['/settings', '/settings/', '/public/../settings']) await refused(path, 401, 'token_missing');
    const { res, toAdmin } = await send('/settings', bearer(adminToken));
    assert.equal(res.status, 200);
    assert.equal(toAdmin, 1);
    assert.equal(admin.received.at(-1)!.url, '/settings', 'forwarded as sent');
  });

  test('repeated slashes are merged before matching', async () => {
    for (const path of ['//admin', '///admin//x', '/admin//', '//public/..//admin']) await refused(path, 401, 'token_missing');
    const { res, toPub } = await send('//public///x//y');
    assert.equal(res.status, 200);
    assert.equal(toPub, 1);
    assert.equal(pub.received.at(-1)!.url, '/public/x/y');
  });

  test('NUL, raw or encoded, is refused', async () => {
    await refusedRaw(get('/public/x\u0000/../../admin'), 400, 'bad_request');
    for (const path of ['/admin%00', '/public/%00/../admin', '/admin%00.html']) await refused(path, 400, 'path_bad_encoding');
  });

  test('overlong UTF-8 is refused', async () => {
    // %c0%ae is an overlong ".", %c0%af and %e0%80%af an overlong "/", %c1%9c an overlong "\".
    for (const path of ['/public/%c0%ae%c0%ae/admin', '/public%c0%af..%c0%afadmin', '/public/%e0%80%ae%e0%80%ae/admin', '/public%e0%80%afadmin', '/public/%f0%80%80%ae/admin', '/public%c1%9cadmin']) {
      await refused(path, 400, 'path_bad_encoding');
    }
  });

  test('invalid percent-encodings, including IIS %u escapes, are refused', async () => {
    for (const path of ['/public/%zz', '/public/%', '/public/%2', '/%u0061dmin', '/public/%u002e%u002e/admin', '/public/%ed%a0%80']) {
      await refused(path, 400, 'path_bad_encoding');
    }
  });

  test('climbing above the root is refused', async () => {
    for (const path of ['/../admin', '/public/../../admin', '/%2e%2e/admin', '/./../admin']) await refused(path, 400, 'path_above_root');
  });

  test('absolute-form and asterisk-form request targets are refused', async () => {
    await refusedRaw(get('http://127.0.0.1/admin'), 400, 'path_not_origin_form');
    await refusedRaw(get('HTTP://gw/public/../admin'), 400, 'path_not_origin_form');
    await refusedRaw(get('https://gw:443/public'), 400, 'path_not_origin_form');
    await refusedRaw('OPTIONS * HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', 400, 'path_not_origin_form');
  });

  test('CONNECT (authority-form) opens no tunnel and reaches nobody', async () => {
    const { result, count } = await reached([admin, pub], () => raw(gw.port, `CONNECT 127.0.0.1:${admin.port} HTTP/1.1\r\nHost: 127.0.0.1:${admin.port}\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n`, 500));
    assert.doesNotMatch(result, /^HTTP\/1\.1 2/);
    assert.equal(count, 0);
  });

  test('fragments in the request target are refused', async () => {
    await refusedRaw(get('/public#/../admin'), 400, 'path_fragment');
    await refusedRaw(get('/public/x#'), 400, 'path_fragment');
    await refusedRaw(get('/public?next=1#/../admin'), 400, 'path_fragment');
  });

  test('spaces, tabs and control characters in the target are refused by the parser', async () => {
    for (const target of ['/public/ ../admin', '/public/\t/../admin', '/public/\u007f', '/admin\u0001']) {
      await refusedRaw(get(target), 400, 'bad_request');
    }
  });

  test('trailing dots and spaces are refused (Windows upstreams drop them: /admin. is /admin)', async () => {
    for (const path of ['/admin.', '/admin..', '/admin...', '/admin%2e', '/admin%2E%2e', '/admin%20', '/admin.%20', '/admin./x', '/public/x.', '/admin%09']) {
      await refused(path, 400, /^path_(trailing_dot|bad_encoding)$/);
    }
  });

  test('Unicode look-alikes that fold or normalize to ASCII are refused', async () => {
    const cases = [
      '/adm%C4%B1n', // dotless ı: "ADMIN" in a Java/.NET case-insensitive comparison
      '/adm%C4%B0n', // dotted İ: lower-cases to "i" (plus a combining dot)
      '/%EF%BD%81dmin', // fullwidth ａ: NFKC "a"
      '/public%EF%BC%8F..%EF%BC%8Fadmin', // fullwidth solidus: NFKC "/"
      '/public/%EF%BC%8E%EF%BC%8E/admin', // fullwidth full stops: NFKC ".."
      '/public/%E2%80%A5/admin', // two dot leader: NFKC ".."
      '/public%E2%88%95..%E2%88%95admin', // division slash: "/" in Windows best-fit
      '/%E2%84%AAeys', // Kelvin sign: lower-cases to "k"
      '/admin%C5%BF', // long ſ: upper-cases to "S"
    ];
    for (const path of cases) await refused(path, 400, 'path_confusable');
    // Ordinary non-ASCII text is not a look-alike: it is forwarded as sent.
    for (const path of ['/public/caf%C3%A9', '/public/stra%C3%9Fe', '/public/%E6%9D%B1%E4%BA%AC', '/public/%D0%B0%D0%B4%D0%BC%D0%B8%D0%BD']) {
      const { res, toPub } = await send(path);
      assert.equal(res.status, 200, path);
      assert.equal(toPub, 1);
      assert.equal(pub.received.at(-1)!.url, path);
    }
  });

  test('percent-encoded letters are decoded before matching: /%61dmin needs the admin token', async () => {
    for (const path of ['/%61dmin', '/%61%64%6d%69%6e/x', '/public/../%61dmin']) await refused(path, 401, 'token_missing');
  });

  test('a parameter segment can not be filled with a dot segment', async () => {
    // "/api/orders/%2e%2e" is "/api/": not an order, so not the order route's upstream, and the upstream that
    // does serve it is asked for "/api/", never for a path with a dot segment in it.
    for (const path of ['/api/orders/..', '/api/orders/%2e%2e', '/api/orders/.']) {
      const { res, toAdmin, toPub } = await send(path);
      assert.equal(res.status, 200, path);
      assert.equal(toAdmin, 0, path);
      assert.equal(toPub, 1, path);
      assert.match(pub.received.at(-1)!.url, /^\/api\/(orders\/)?$/, path);
    }
  });

  test('the query never influences routing and is forwarded untouched', async () => {
    const { res, toAdmin, toPub } = await send('/public/x?next=/../admin&p=%2e%2e%2fadmin;x');
    assert.equal(res.status, 200);
    assert.equal(toAdmin, 0);
    assert.equal(toPub, 1);
    assert.equal(pub.received.at(-1)!.url, '/public/x?next=/../admin&p=%2e%2e%2fadmin;x');
  });

  test('strip_prefix forwards only the normalized rest: no climbing out of the prefix', async () => {
    await refused('/svc/../admin', 401, 'token_missing');
    await refused('/svc/%2e%2e/admin', 401, 'token_missing');
    await refused('/svc%2f..%2fadmin', 400, 'path_encoded_slash');
    const { res } = await send('/svc//a/./b/../c');
    assert.equal(res.status, 200);
    assert.equal(pub.received.at(-1)!.url, '/a/c');
  });

  test('the upstream is asked for exactly the normalized path, even one containing "http:/"', async () => {
    for (const path of ['/public/http:/x', '/public/a/https:/b']) {
      const { res } = await send(path);
      assert.equal(res.status, 200);
      assert.equal(pub.received.at(-1)!.url, path);
    }
  });

  test('without case_insensitive_paths, /ADMIN is another path, forwarded exactly as matched', async () => {
    // The catch-all serves it, and the upstream is asked for /ADMIN: a case-sensitive upstream has no such
    // resource. For upstreams that ignore case, turn case_insensitive_paths on (next suite).
    const { res, toAdmin } = await send('/ADMIN/x');
    assert.equal(res.status, 200);
    assert.equal(toAdmin, 0);
    assert.equal(pub.received.at(-1)!.url, '/ADMIN/x');
  });
});

describe('path attacks with case_insensitive_paths', () => {
  let admin: Upstream;
  let pub: Upstream;
  let gw: TestGateway;

  before(async () => {
    admin = await startUpstream('admin');
    pub = await startUpstream('pub');
    gw = await startTestGateway(
      gatewayConfig(admin.url, pub.url, { case_insensitive_paths: true }, [{ name: 'cafe', prefix: '/caf%C3%A9', upstream: 'admin' }]),
    );
  });
  after(async () => {
    await gw.close();
    await admin.close();
    await pub.close();
  });

  test('case variants (/ADMIN) need the protected route\'s token when case_insensitive_paths is on', async () => {
    for (const path of ['/ADMIN', '/Admin/x', '/aDmIn/', '/PUBLIC/../ADMIN', '/%41DMIN', '/%41%44%4D%49%4E']) {
      const { result, count } = await reached([admin, pub], () => request(gw.url, path));
      assertRefused(result, 401, 'token_missing', count, path);
    }
    const token = await sign(goodClaims({ roles: ['admin'] }));
    const res = await request(gw.url, '/AdMiN/Users', { headers: bearer(token) });
    assert.equal(res.status, 200);
    assert.equal(admin.received.at(-1)!.url, '/AdMiN/Users', 'the path is forwarded as sent, only matched without case');
  });

  test('non-ASCII letters in another case (/CAF%C3%89 for /caf%C3%A9) need the protected route\'s token', async () => {
    // A Java or .NET upstream decodes "CAFÉ" and compares it to "café" ignoring case; the router lower-cases
    // the escapes "%C3%89" and "%C3%A9" instead, which stay different, so the public catch-all matches.
    for (const path of ['/CAF%C3%89', '/Caf%C3%89/x']) {
      const { result, count } = await reached([admin, pub], () => request(gw.url, path));
      assertRefused(result, 401, 'token_missing', count, path);
    }
  });

  test('dotless ı and the Kelvin sign can not stand in for i and k', async () => {
    for (const path of ['/adm%C4%B1n', '/ADM%C4%B0N', '/%E2%84%AA']) {
      const { result, count } = await reached([admin, pub], () => request(gw.url, path));
      assertRefused(result, 400, 'path_confusable', count, path);
    }
  });
});
