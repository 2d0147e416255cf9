// Key pairs and tokens for tests: real keys, real signatures, by jose.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  readonly privatePem: string;
}

export function rsaKeyPair(): KeyPair {
  return pemPair(generateKeyPairSync('rsa', { modulusLength: 2048 }));
}

export function ecKeyPair(curve: 'P-256' | 'P-384' = 'P-256'): KeyPair {
  return pemPair(generateKeyPairSync('ec', { namedCurve: curve }));
}

export function edKeyPair(): KeyPair {
  return pemPair(generateKeyPairSync('ed25519'));
}

function pemPair({ privateKey, publicKey }: { privateKey: KeyObject; publicKey: KeyObject }): KeyPair {
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export async function publicJwk(pair: KeyPair, kid: string, alg = 'RS256'): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
}

const created: string[] = [];
process.once('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A temp directory for config files and keys, removed when the test process exits. */
export function tempDir(prefix = 'portcullis-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function writeFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

export interface SignOptions {
  readonly alg?: string;
  readonly key?: KeyObject | Uint8Array | string;
  readonly header?: Record<string, unknown>;
  /** Seconds from now; negative for an expired token. Null leaves exp out. */
  readonly expiresIn?: number | null;
}

/** A signed token: HS256 with SECRET unless told otherwise. */
export async function sign(claims: JWTPayload, options: SignOptions = {}): Promise<string> {
  const alg = options.alg ?? 'HS256';
  const key = options.key ?? SECRET;
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iat: now, ...claims };
  if (options.expiresIn !== null && payload.exp === undefined) payload.exp = now + (options.expiresIn ?? 3600);
  return new SignJWT(payload)
    .setProtectedHeader({ alg, ...options.header })
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}
