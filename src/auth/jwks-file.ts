// A JWKS kept in a local file (jwks_file): read when the config is loaded, watched like gateway.yaml, and
// re-read when it changes, so that keys rotate by replacing the file, without a restart. An unreadable or
// invalid new version is reported and the keys already held keep verifying.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from 'jose';
import type { Algorithm } from '../config/schema.ts';
import { watchFile, type ConfigWatcher } from '../config/watch.ts';
import { parseJwks } from './jwks.ts';
import { algorithmsForKey, ASYMMETRIC_ALGORITHMS, describeKey, MIN_RSA_BITS, type KeySource, type KeyStatus, type VerificationKey } from './keys.ts';

export interface JwksFileEvents {
  onFileRead(provider: string, file: string, outcome: { ok: true; keys: number } | { ok: false; error: string }): void;
}

/** The key set in `file`: public keys only (as for a published JWKS). Throws with a sentence on failure. */
export function readJwksFile(file: string): JSONWebKeySet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file} does not exist` : `${file} can not be read (${code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON`);
  }
  const jwks = parseJwks(value);
  if (jwks.keys.length === 0) throw new Error(`${file} holds no public keys`);
  // A key that can verify nothing would otherwise load quietly, and every token naming it get 401
  // token_invalid with nothing in validate, /readyz or the log to say why.
  jwks.keys.forEach((jwk, i) => {
    const problem = keyProblem(jwk);
    if (problem !== undefined) throw new Error(`${file}: key ${i + 1}${typeof jwk.kid === 'string' ? ` (kid "${jwk.kid}")` : ''} ${problem}`);
  });
  return jwks;
}

/** "an RSA 2048-bit key", "an EC P-256 key", "an ed448 key". */
function aKey(key: KeyObject): string {
  const described = describeKey(key);
  return `${/^(RSA|EC|[aeiou])/i.test(described) ? 'an' : 'a'} ${described}`;
}

/** Why a JWK verifies no token, or undefined when it can verify some. */
function keyProblem(jwk: JWK): string | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return `is not a valid ${typeof jwk.kty === 'string' ? jwk.kty : ''} public key: check its members (kty, n and e, crv, x and y)`.replace('  ', ' ');
  }
  const algorithms = algorithmsForKey(key);
  if (algorithms.length === 0) return `is ${aKey(key)}, which verifies no JWS algorithm; use RSA, EC (P-256/384/521) or Ed25519`;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS) return `is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`;
  if (typeof jwk.alg === 'string' && !(algorithms as string[]).includes(jwk.alg)) return `says alg ${jwk.alg}, but it is ${aKey(key)}, which verifies ${algorithms.join(', ')}`;
  return undefined;
}

/** For /readyz, which names no file: the path and the reason are in the log line. */
const FILE_REFUSED = { kind: 'file', problem: 'the key file was refused when re-read; see the log' } as const;

export class JwksFileSource implements KeySource {
  readonly kind = 'jwks_file';
  readonly supportedAlgorithms: readonly Algorithm[] = ASYMMETRIC_ALGORITHMS;
  readonly ready = true;
  generation = 1;

  private keySet: ReturnType<typeof createLocalJWKSet>;
  private fingerprint: string;
  private keyCount: number;
  private lastError: string | undefined;
  private watcher: ConfigWatcher | undefined;
  private stopped = false;

  constructor(
    private readonly provider: string,
    private readonly file: string,
    initial: JSONWebKeySet,
    private readonly events?: Partial<JwksFileEvents>,
  ) {
    this.keySet = createLocalJWKSet(initial);
    this.fingerprint = JSON.stringify(initial.keys);
    this.keyCount = initial.keys.length;
  }

  status(): KeyStatus {
    return { ready: true, keyCount: this.keyCount, ...(this.lastError !== undefined ? { error: this.lastError, failure: FILE_REFUSED } : {}) };
  }

  resolve(header: JWSHeaderParameters): Promise<VerificationKey> {
    return this.keySet(header);
  }

  start(): void {
    if (this.watcher !== undefined || this.stopped) return;
    this.watcher = watchFile(this.file, () => this.reread());
    // The watch compares with the file as it is now, but the keys were read with the config, earlier (a
    // reload starts its sources only after waiting for new providers' keys): a version written in between
    // would otherwise go unnoticed until the next one.
    this.reread();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
  }

  /** The keys were read with the config: nothing to wait for. */
  async whenSettled(): Promise<void> {}

  /** Read the file again; a changed key set replaces the old one and invalidates identities verified with it. */
  reread(): void {
    let jwks: JSONWebKeySet;
    try {
      jwks = readJwksFile(this.file);
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.events?.onFileRead?.(this.provider, this.file, { ok: false, error: this.lastError });
      return;
    }
    this.lastError = undefined;
    const fingerprint = JSON.stringify(jwks.keys);
    if (fingerprint === this.fingerprint) return;
    this.keySet = createLocalJWKSet(jwks);
    this.fingerprint = fingerprint;
    this.keyCount = jwks.keys.length;
    this.generation++;
    this.events?.onFileRead?.(this.provider, this.file, { ok: true, keys: jwks.keys.length });
  }
}
