// normalizeTarget: the single decision about which path a request is for. Every case below is a request
// target as a client could send it, with the path the gateway routes on or the reason it is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { normalizeTarget, type PathRejection } from '../../src/routing/normalize.ts';

function normalizesTo(target: string, path: string, query = ''): void {
  assert.deepEqual(normalizeTarget(target), { ok: true, path, query }, `normalizing ${JSON.stringify(target)}`);
}

function refused(target: string, code: PathRejection): void {
  const result = normalizeTarget(target);
  assert.equal(result.ok, false, `${JSON.stringify(target)} should be refused, got ${JSON.stringify(result)}`);
  if (!result.ok) {
    assert.equal(result.code, code, `refusal code for ${JSON.stringify(target)}`);
    assert.ok(result.message.length > 0, 'a refusal explains itself');
  }
}

describe('normalizeTarget: paths that are accepted', () => {
  test('an already normal path is returned unchanged', () => {
    normalizesTo('/', '/');
    normalizesTo('/api/orders/42', '/api/orders/42');
    normalizesTo('/a-b_c~d.e/f:g@h!$&\'()*+,=', '/a-b_c~d.e/f:g@h!$&\'()*+,=');
  });

  test('plain "." and ".." segments are resolved', () => {
    normalizesTo('/a/./b', '/a/b');
    normalizesTo('/a/b/../c', '/a/c');
    normalizesTo('/a/b/c/../../d', '/a/d');
    normalizesTo('/.', '/');
    normalizesTo('/./', '/');
  });

  test('encoded dot segments (%2e, %2E, .%2e, %2e.) are resolved like plain ones', () => {
    normalizesTo('/a/%2e/b', '/a/b');
    normalizesTo('/a/%2E/b', '/a/b');
    normalizesTo('/a/b/%2e%2e/c', '/a/c');
    normalizesTo('/a/b/%2E%2e/c', '/a/c');
    normalizesTo('/a/b/.%2e/c', '/a/c');
    normalizesTo('/a/b/%2e./c', '/a/c');
  });

  test('a dot segment at the end leaves a trailing slash', () => {
    normalizesTo('/a/b/.', '/a/b/');
    normalizesTo('/a/b/..', '/a/');
    normalizesTo('/a/b/%2e%2e', '/a/');
  });

  test('climbing back to the root gives "/"', () => {
    normalizesTo('/a/..', '/');
    normalizesTo('/a/.%2e', '/');
  });

  test('repeated slashes are merged into one', () => {
    normalizesTo('//a', '/a');
    normalizesTo('/a//b', '/a/b');
    normalizesTo('/a///b////c', '/a/b/c');
    normalizesTo('/a//', '/a/');
  });

  test('a trailing slash is kept', () => {
    normalizesTo('/a/', '/a/');
    normalizesTo('/a/b/', '/a/b/');
  });

  test('percent-encoded unreserved characters are decoded', () => {
    normalizesTo('/%41', '/A');
    normalizesTo('/%7e', '/~');
    normalizesTo('/%7E%2D%5F%30', '/~-_0');
    normalizesTo('/users/%6a%6F%65', '/users/joe');
  });

  test('other escapes are kept with upper-case hex', () => {
    normalizesTo('/%3a', '/%3A');
    normalizesTo('/a%20b', '/a%20b');
    normalizesTo('/caf%c3%a9', '/caf%C3%A9');
    normalizesTo('/%25', '/%25');
    normalizesTo('/%40%3d', '/%40%3D');
  });

  test('non-ASCII letters without an ASCII look-alike are allowed', () => {
    normalizesTo('/stra%C3%9Fe', '/stra%C3%9Fe');
  });

  test('the query is kept verbatim, however odd it looks', () => {
    normalizesTo('/a?x=1', '/a', '?x=1');
    normalizesTo('/a/./b?%2e%2e/../ y=%2F', '/a/b', '?%2e%2e/../ y=%2F');
    normalizesTo('/?', '/', '?');
  });
});

describe('normalizeTarget: paths that are refused', () => {
  test('an encoded slash is refused, in either case', () => {
    refused('/a%2Fb', 'path_encoded_slash');
    refused('/a%2fb', 'path_encoded_slash');
    refused('/%2F', 'path_encoded_slash');
  });

  test('a backslash is refused, raw or encoded', () => {
    refused('/a\\b', 'path_backslash');
    refused('/a%5Cb', 'path_backslash');
    refused('/a%5cb', 'path_backslash');
  });

  test('climbing above the root is refused', () => {
    refused('/..', 'path_above_root');
    refused('/../a', 'path_above_root');
    refused('/a/../..', 'path_above_root');
    refused('/%2e%2e/', 'path_above_root');
  });

  test('double encoding is refused', () => {
    refused('/%252e', 'path_double_encoding');
    refused('/%252f', 'path_double_encoding');
    refused('/a/%252E%252E/b', 'path_double_encoding');
    refused('/%2525', 'path_double_encoding');
  });

  test('dot segments with parameters are refused', () => {
    refused('/public/..;/admin', 'path_dot_parameter');
    refused('/..;', 'path_dot_parameter');
    refused('/.;x', 'path_dot_parameter');
    refused('/a/..%3B/b', 'path_dot_parameter');
  });

  test('matrix parameters on ordinary segments are refused, raw or encoded', () => {
    refused('/admin;x', 'path_parameter');
    refused('/;/admin', 'path_parameter');
    refused('/a%3Bb', 'path_parameter');
  });

  test('a segment ending in a dot or a space is refused', () => {
    refused('/admin.', 'path_trailing_dot');
    refused('/admin./x', 'path_trailing_dot');
    refused('/admin%2e', 'path_trailing_dot');
    refused('/admin%20', 'path_trailing_dot');
    refused('/a/...', 'path_trailing_dot');
  });

  test('NUL and control characters are refused', () => {
    refused('/a%00', 'path_bad_encoding');
    refused('/a%0A', 'path_bad_encoding');
    refused('/a%7F', 'path_bad_encoding');
    refused('/a\u0001', 'path_bad_character');
    refused('/a\u0000', 'path_bad_character');
  });

  test('raw characters that must be encoded are refused', () => {
    refused('/a b', 'path_bad_character');
    refused('/a"b', 'path_bad_character');
    refused('/caf\u00e9', 'path_bad_character');
  });

  test('invalid and overlong UTF-8 is refused', () => {
    refused('/%c0%ae', 'path_bad_encoding');
    refused('/%C0%AE%C0%AE/admin', 'path_bad_encoding');
    refused('/%ff', 'path_bad_encoding');
    refused('/%e2%82', 'path_bad_encoding');
  });

  test('malformed escapes are refused', () => {
    refused('/%zz', 'path_bad_encoding');
    refused('/a%', 'path_bad_encoding');
    refused('/a%4', 'path_bad_encoding');
    refused('/%g1', 'path_bad_encoding');
  });

  test('a fragment is refused, in the path or after the query', () => {
    refused('/a#b', 'path_fragment');
    refused('/#', 'path_fragment');
    refused('/a?b#c', 'path_fragment');
  });

  test('targets that are not origin-form are refused', () => {
    refused('http://x/y', 'path_not_origin_form');
    refused('*', 'path_not_origin_form');
    refused('', 'path_not_origin_form');
    refused('a/b', 'path_not_origin_form');
  });

  test('non-ASCII characters that read as ASCII elsewhere are refused', () => {
    refused('/adm%C4%B1n', 'path_confusable'); // dotless i
    refused('/%EF%BD%81dmin', 'path_confusable'); // fullwidth a
    refused('/a%E2%81%84b', 'path_confusable'); // fraction slash
  });
});

describe('normalizeTarget: properties', () => {
  const pieces = ['/', '.', '%2e', '%2f', 'a', 'b', ';', '%25', '\\'];
  // Half of the strings are forced to start with "/", so that most of them get past the first check.
  const target = fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom(...pieces), { maxLength: 24 }))
    .map(([rooted, parts]) => (rooted ? '/' : '') + parts.join(''));

  test('any path-ish target is either refused or normalized to a stable, dot-free path', () => {
    fc.assert(
      fc.property(target, (input) => {
        const result = normalizeTarget(input);
        if (!result.ok) return;
        assert.ok(result.path.startsWith('/'), `${result.path} starts with "/"`);
        assert.ok(!result.path.includes('//'), `${result.path} has no "//"`);
        const segments = result.path.split('/');
        assert.ok(!segments.includes('.') && !segments.includes('..'), `${result.path} has no dot segment`);
        assert.deepEqual(normalizeTarget(result.path + result.query), result, `normalizing ${result.path} again`);
      }),
      { numRuns: 2000 },
    );
  });

  test('normalization never throws, whatever the characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (tail) => {
        const result = normalizeTarget('/' + tail);
        assert.equal(typeof result.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
