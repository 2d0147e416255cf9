// Who a request is counted as: the client address as trust_proxy defines it, and the keys that never hold
// a credential as it was sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { originalClient, trustPolicy } from '../../src/proxy/trust.ts';
import { parseLimitKey, keyOf, MISSING_KEY, type RateLimitPolicy } from '../../src/traffic/rate-limit.ts';
import type { Route } from '../../src/routing/route.ts';

describe('the client address of the ip key', () => {
  const nobody = trustPolicy(false);
  const everyone = trustPolicy(true);
  const proxies = trustPolicy(['10.0.0.0/8']);

  const cases: [string, string, string | undefined, ReturnType<typeof trustPolicy>, string][] = [
    ['no proxy trusted: the peer, whatever X-Forwarded-For says', '198.51.100.7', '1.2.3.4', nobody, '198.51.100.7'],
    ['an IPv4 peer on a dual-stack socket', '::ffff:198.51.100.7', undefined, nobody, '198.51.100.7'],
    ['a trusted proxy: the address it saw', '10.0.0.1', '203.0.113.9', proxies, '203.0.113.9'],
    ['what the client wrote left of it proves nothing', '10.0.0.1', '6.6.6.6, 203.0.113.9', proxies, '203.0.113.9'],
    ['a chain of trusted proxies is walked past', '10.0.0.1', '203.0.113.9, 10.0.0.2, 10.0.0.3', proxies, '203.0.113.9'],
    ['an untrusted peer may not speak for anyone', '198.51.100.7', '203.0.113.9', proxies, '198.51.100.7'],
    ['a trusted proxy without the header: the proxy itself', '10.0.0.1', undefined, proxies, '10.0.0.1'],
    ['trust_proxy: true takes the leftmost, which the client chose', '198.51.100.7', '6.6.6.6, 203.0.113.9', everyone, '6.6.6.6'],
  ];
  for (const [name, peer, forwardedFor, policy, expected] of cases) {
    test(name, () => assert.equal(originalClient(peer, forwardedFor, policy), expected));
  }
});

describe('rate limit keys', () => {
  const route = { name: 'r' } as Route;
  const policy = (key: string) => ({ key: parseLimitKey(key) }) as RateLimitPolicy;
  const client = (headers: Record<string, string>) => ({ headers, socket: { remoteAddress: '127.0.0.1' } });

  test('a header key is counted under a hash of the value: an API key is never written to a store', () => {
    const key = keyOf(policy('header:X-Api-Key'), route, null, client({ 'x-api-key': 'sk_live_secret' }), trustPolicy(false));
    assert.doesNotMatch(key, /sk_live_secret/);
    assert.notEqual(key, keyOf(policy('header:X-Api-Key'), route, null, client({ 'x-api-key': 'sk_live_other' }), trustPolicy(false)));
  });

  test('a request without the key value counts under the one shared missing key', () => {
    assert.equal(keyOf(policy('sub'), route, null, client({}), trustPolicy(false)), MISSING_KEY);
    assert.equal(keyOf(policy('header:X-Api-Key'), route, null, client({}), trustPolicy(false)), MISSING_KEY);
    assert.equal(keyOf(policy('claim:org.id'), route, null, client({}), trustPolicy(false)), MISSING_KEY);
  });
});
