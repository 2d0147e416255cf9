// A real identity-provider stand-in: serves a JWKS (and an OpenID discovery document) over HTTP on
// 127.0.0.1, counts fetches, and can be switched to failing to play an outage.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface JwksServer {
  readonly url: string;
  readonly jwksUri: string;
  /** Fetches of the JWKS document so far. */
  fetches: number;
  keys: JWK[];
  /** While true, every request answers 503. */
  down: boolean;
  /** Milliseconds the JWKS document takes to arrive (a slow identity provider). */
  delayMs: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { fetches: 0, keys, down: false, delayMs: 0 };
  const server = http.createServer((req, res) => {
    if (state.down) {
      res.writeHead(503);
      res.end();
      return;
    }
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: jwks.url, jwks_uri: jwks.jwksUri }));
      return;
    }
    if (req.url === '/keys') {
      state.fetches++;
      const body = JSON.stringify({ keys: state.keys });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      }, state.delayMs);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwks: JwksServer = {
    url,
    jwksUri: `${url}/keys`,
    get fetches() {
      return state.fetches;
    },
    set fetches(n) {
      state.fetches = n;
    },
    get keys() {
      return state.keys;
    },
    set keys(k) {
      state.keys = k;
    },
    get down() {
      return state.down;
    },
    set down(d) {
      state.down = d;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms) {
      state.delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return jwks;
}
