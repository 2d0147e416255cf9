// Key sources: where a provider's verification keys come from. Static ones (an HMAC secret, a PEM public
// key or certificate) are ready at once; a JWKS source (jwks.ts) fetches and refreshes.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWSHeaderParameters } from 'jose';
import type { Algorithm } from '../config/schema.ts';
import type { KeyFailure } from './key-failure.ts';

export type VerificationKey = webcrypto.CryptoKey | KeyObject | Uint8Array;

export interface KeyStatus {
  readonly ready: boolean;
  /** Why keys are not available, or why the last refresh failed: for the log (it may name addresses). */
  readonly error?: string;
  /** The same, as a value that names no address (for /readyz). */
  readonly failure?: KeyFailure;
  readonly keyCount: number;
  readonly fetchedAt?: Date;
}

export interface KeySource {
  readonly kind: 'secret' | 'public_key' | 'jwks';
  /** Algorithms this kind of key can verify; a provider's `algorithms` must be among them. */
  readonly supportedAlgorithms: readonly Algorithm[];
  /** Increases whenever the set of keys changes; identities verified with older keys are not reused. */
  readonly generation: number;
  readonly ready: boolean;
  status(): KeyStatus;
  /** The key for a token header; throws a jose error (or KeysUnavailableError) when there is none. */
  resolve(header: JWSHeaderParameters): VerificationKey | Promise<VerificationKey>;
  start(): void;
  stop(): void;
  /** Start fetching (if needed) and settle once keys are ready or the first attempt failed. */
  whenSettled(): Promise<void>;
}

export class KeysUnavailableError extends Error {
  readonly code = 'ERR_KEYS_UNAVAILABLE';
}

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const satisfies readonly Algorithm[];
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const satisfies readonly Algorithm[];

const EC_CURVE_ALGORITHM: Record<string, Algorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/** The algorithms a public (or private) key can verify, so that no other one is ever tried with it. */
export function algorithmsForKey(key: KeyObject): Algorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const alg = EC_CURVE_ALGORITHM[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return alg ? [alg] : [];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `EC ${details?.namedCurve ?? ''} key`.replace('  ', ' ');
  if (details?.modulusLength) return `${key.asymmetricKeyType?.toUpperCase()} ${details.modulusLength}-bit key`;
  return `${key.asymmetricKeyType ?? 'unknown'} key`;
}

/** A PEM public key, certificate, or (for signing_key_file's public half) private key, read from disk. */
export function readPublicKey(file: string): KeyObject {
  const text = readFileSync(file, 'utf8');
  if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text).publicKey;
  return createPublicKey(text);
}

export function readPrivateKey(file: string): KeyObject {
  return createPrivateKey(readFileSync(file, 'utf8'));
}

const HMAC_HASH: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/** Keys that never change: imported once, at compile time. */
class StaticKeySource implements KeySource {
  readonly generation = 1;
  readonly ready = true;

  constructor(
    readonly kind: 'secret' | 'public_key',
    readonly supportedAlgorithms: readonly Algorithm[],
    private readonly keys: ReadonlyMap<string, VerificationKey>,
  ) {}

  status(): KeyStatus {
    return { ready: true, keyCount: 1 };
  }

  resolve(header: JWSHeaderParameters): VerificationKey {
    const key = header.alg === undefined ? undefined : this.keys.get(header.alg);
    // jose has already refused algorithms outside the provider's list; this is the second lock.
    if (key === undefined) throw new KeysUnavailableError(`no key for algorithm ${String(header.alg)}`);
    return key;
  }

  start(): void {}
  stop(): void {}
  async whenSettled(): Promise<void> {}
}

export async function secretKeySource(secret: string, algorithms: readonly Algorithm[]): Promise<KeySource> {
  const bytes = new TextEncoder().encode(secret);
  const keys = new Map<string, VerificationKey>();
  for (const alg of algorithms) {
    const hash = HMAC_HASH[alg];
    if (!hash) continue;
    // Imported once: jose would otherwise import the raw secret on every verification.
    keys.set(alg, await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['verify']));
  }
  return new StaticKeySource('secret', HMAC_ALGORITHMS, keys);
}

export function publicKeySource(key: KeyObject, algorithms: readonly Algorithm[]): KeySource {
  const keys = new Map<string, VerificationKey>(algorithms.map((alg) => [alg, key]));
  return new StaticKeySource('public_key', algorithmsForKey(key), keys);
}
