// Key sources: where a provider's verification keys come from. Static ones (an HMAC secret, a PEM public
// key or certificate) are ready at once; a JWKS source (jwks.ts) fetches and refreshes.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, type JWSHeaderParameters } from 'jose';
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
  readonly kind: 'secret' | 'public_key' | 'jwks' | 'jwks_file';
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

const PSS_BY_HASH: Record<string, { alg: Algorithm; bytes: number }> = {
  sha256: { alg: 'PS256', bytes: 32 },
  sha384: { alg: 'PS384', bytes: 48 },
  sha512: { alg: 'PS512', bytes: 64 },
};

/** RSA keys shorter than this verify nothing: jose refuses them (RFC 7518 §3.3 asks for 2048 bits). */
export const MIN_RSA_BITS = 2048;

/** The algorithms a public (or private) key can verify, so that no other one is ever tried with it. */
export function algorithmsForKey(key: KeyObject): Algorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return pssAlgorithms(key);
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

/**
 * An RSA-PSS key (`openssl genpkey -algorithm RSA-PSS`) may be bound to one hash, one MGF1 hash and a
 * least salt length. JWA's PS256/384/512 (RFC 7518 §3.5) use the same hash for both and a salt as long as
 * the hash: only the algorithms the key's parameters allow.
 */
function pssAlgorithms(key: KeyObject): Algorithm[] {
  const details = key.asymmetricKeyDetails;
  if (details?.hashAlgorithm === undefined) return ['PS256', 'PS384', 'PS512'];
  const pss = PSS_BY_HASH[details.hashAlgorithm];
  if (pss === undefined) return [];
  if ((details.mgf1HashAlgorithm ?? details.hashAlgorithm) !== details.hashAlgorithm) return [];
  if ((details.saltLength ?? 0) > pss.bytes) return [];
  return [pss.alg];
}

/**
 * The key as jose can use it. jose (like WebCrypto) knows no "rsa-pss" key type, and refuses such a key
 * outright: the same modulus and exponent as a plain RSA key verify the same PS256 signatures, and
 * algorithmsForKey() has already limited it to the PS algorithms its parameters allow.
 */
export function jwsKeyOf(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'rsa-pss') return key;
  if (key.type === 'public') {
    // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING (0 unused bits, RSAPublicKey) }
    const [, bits] = derChildren(key.export({ type: 'spki', format: 'der' }));
    return createPublicKey({ key: bits!.subarray(1), format: 'der', type: 'pkcs1' });
  }
  // PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING (RSAPrivateKey) }
  const [, , octets] = derChildren(key.export({ type: 'pkcs8', format: 'der' }));
  return createPrivateKey({ key: octets!, format: 'der', type: 'pkcs1' });
}

/** The contents of each element inside a DER SEQUENCE. */
function derChildren(der: Buffer): Buffer[] {
  const read = (offset: number): { start: number; end: number } => {
    let length = der[offset + 1]!;
    let header = 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + der[offset + 2 + i]!;
      header += bytes;
    }
    return { start: offset + header, end: offset + header + length };
  };
  const outer = read(0);
  const children: Buffer[] = [];
  for (let offset = outer.start; offset < outer.end; ) {
    const child = read(offset);
    children.push(der.subarray(child.start, child.end));
    offset = child.end;
  }
  return children;
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

export type SecretEncoding = 'utf8' | 'base64' | 'base64url';

const ENCODED_SECRET: Record<Exclude<SecretEncoding, 'utf8'>, RegExp> = {
  base64: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/,
  base64url: /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/,
};

/** The key bytes of a secret written in `encoding`; undefined when the text is not in that encoding. */
export function secretBytes(secret: string, encoding: SecretEncoding): Uint8Array | undefined {
  if (encoding === 'utf8') return new TextEncoder().encode(secret);
  // Node's decoder skips what it does not understand: checked first, so that a typo is an error, not a
  // different key.
  if (!ENCODED_SECRET[encoding].test(secret)) return undefined;
  return new Uint8Array(Buffer.from(secret, encoding));
}

const HMAC_HASH: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/** A static key as configured: the key per algorithm it may verify, and its kid when it has one. */
interface StaticKey {
  readonly kid: string | undefined;
  readonly byAlgorithm: ReadonlyMap<string, VerificationKey>;
}

/** Keys that never change (secrets and PEM files, one or several): imported once, at compile time. */
class StaticKeySource implements KeySource {
  readonly generation = 1;
  readonly ready = true;

  constructor(
    readonly kind: 'secret' | 'public_key',
    readonly supportedAlgorithms: readonly Algorithm[],
    private readonly keys: readonly StaticKey[],
  ) {}

  status(): KeyStatus {
    return { ready: true, keyCount: this.keys.length };
  }

  /**
   * The key for a token: the one whose kid the token names, else those without a kid; with several
   * candidates (the current and the next key, no kids), jose is handed each in turn (verify.ts).
   */
  resolve(header: JWSHeaderParameters): VerificationKey {
    const alg = header.alg;
    // jose has already refused algorithms outside the provider's list; this is the second lock.
    const usable = alg === undefined ? [] : this.keys.filter((k) => k.byAlgorithm.has(alg));
    if (usable.length === 0) throw new KeysUnavailableError(`no key for algorithm ${String(alg)}`);
    const named = header.kid === undefined ? [] : usable.filter((k) => k.kid === header.kid);
    const candidates = named.length > 0 ? named : usable.filter((k) => k.kid === undefined || header.kid === undefined);
    if (candidates.length === 0) throw new errors.JWKSNoMatchingKey();
    if (candidates.length === 1) return candidates[0]!.byAlgorithm.get(alg!)!;
    const error = new errors.JWKSMultipleMatchingKeys();
    (error as unknown as { [Symbol.asyncIterator]: () => AsyncGenerator<VerificationKey> })[Symbol.asyncIterator] = async function* () {
      for (const key of candidates) yield key.byAlgorithm.get(alg!)!;
    };
    throw error;
  }

  start(): void {}
  stop(): void {}
  async whenSettled(): Promise<void> {}
}

export interface SecretKey {
  readonly bytes: Uint8Array;
  readonly kid?: string | undefined;
}

export async function secretKeySource(secrets: readonly SecretKey[], algorithms: readonly Algorithm[]): Promise<KeySource> {
  const keys: StaticKey[] = [];
  for (const secret of secrets) {
    const byAlgorithm = new Map<string, VerificationKey>();
    for (const alg of algorithms) {
      const hash = HMAC_HASH[alg];
      if (!hash) continue;
      // Imported once: jose would otherwise import the raw secret on every verification.
      byAlgorithm.set(alg, await crypto.subtle.importKey('raw', secret.bytes, { name: 'HMAC', hash }, false, ['verify']));
    }
    keys.push({ kid: secret.kid, byAlgorithm });
  }
  return new StaticKeySource('secret', HMAC_ALGORITHMS, keys);
}

export interface PublicKey {
  readonly key: KeyObject;
  readonly kid?: string | undefined;
}

/** Each key verifies only the provider's algorithms that it can verify itself. */
export function publicKeySource(publicKeys: readonly PublicKey[], algorithms: readonly Algorithm[]): KeySource {
  const supported = new Set<Algorithm>();
  const keys = publicKeys.map(({ key, kid }): StaticKey => {
    const own = algorithmsForKey(key);
    for (const alg of own) supported.add(alg);
    const usable = jwsKeyOf(key);
    return { kid, byAlgorithm: new Map(algorithms.filter((alg) => own.includes(alg)).map((alg) => [alg, usable])) };
  });
  return new StaticKeySource('public_key', [...supported], keys);
}
