// An identity provider on 127.0.0.1 that serves its discovery document and keys at the product's own
// paths (Keycloak's /realms/x/protocol/openid-connect/certs, Auth0's /.well-known/jwks.json...), and signs
// tokens shaped as that product issues them.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import { publicJwk, rsaKeyPair, type KeyPair } from './keys.ts';

export interface IdentityProvider {
  /** http://127.0.0.1:PORT, standing for the product's https://host. */
  readonly url: string;
  readonly key: KeyPair;
  readonly kid: string;
  /** Requests served, by path. */
  readonly hits: Map<string, number>;
  /** Serve `body` as JSON at `path`. */
  serve(path: string, body: unknown): void;
  /** A token signed with the provider's key, with `kid` and the header the product writes. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startIdentityProvider(): Promise<IdentityProvider> {
  const documents = new Map<string, string>();
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = documents.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = rsaKeyPair();
  const kid = `kid-${Math.random().toString(36).slice(2, 10)}`;
  return {
    url,
    key,
    kid,
    hits,
    serve(path, body) {
      documents.set(path, JSON.stringify(body));
    },
    async sign(claims, header = { typ: 'JWT' }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, exp: now + 3600, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid, ...header })
        .sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The provider's public key as its JWKS publishes it. */
export async function keySetOf(idp: IdentityProvider): Promise<{ keys: JWK[] }> {
  return { keys: [await publicJwk(idp.key, idp.kid, 'RS256')] };
}
