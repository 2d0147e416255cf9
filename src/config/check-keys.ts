// Key files named by providers (public_key_file, signing_key_file, jwks_file): they exist, hold the right
// kind of key, one the gateway can really verify with. Read once here and handed to compile.
import { createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { readJwksFile } from '../auth/jwks-file.ts';
import { algorithmsForKey, describeKey, MIN_RSA_BITS, readPrivateKey, readPublicKey, type PublicKey } from '../auth/keys.ts';
import type { Report } from './check-claims.ts';
import type { ConfigPath } from './problems.ts';
import type { ProviderConfig } from './schema.ts';

/** Keys read from files while checking, handed to compile so they are read once. */
export interface ProviderKeys {
  readonly publicKeys?: readonly PublicKey[];
  readonly signingKey?: KeyObject;
  readonly jwks?: JSONWebKeySet;
}

export function loadKeyFiles(provider: ProviderConfig, baseDir: string, at: ConfigPath, report: Report): ProviderKeys {
  const result: { publicKeys?: PublicKey[]; signingKey?: KeyObject; jwks?: JSONWebKeySet } = {};
  if (provider.public_key_file !== undefined) {
    const entries = [provider.public_key_file].flat();
    const many = Array.isArray(provider.public_key_file);
    const keys: PublicKey[] = [];
    const kids = new Set<string>();
    entries.forEach((entry, i) => {
      const { file, kid } = typeof entry === 'string' ? { file: entry, kid: undefined } : entry;
      const where = [...at, 'public_key_file', ...(many ? [i] : []), ...(typeof entry === 'string' ? [] : ['file'])];
      const key = readKey(file, baseDir, readPublicKey, 'a PEM public key or certificate', where, report);
      if (kid !== undefined) {
        if (kids.has(kid)) report(where, 'duplicate_kid', `another key already has the kid "${kid}"`);
        kids.add(kid);
      }
      if (key) keys.push({ key, kid });
    });
    if (keys.length === entries.length) result.publicKeys = keys;
  }
  if (provider.signing_key_file !== undefined) {
    const key = readKey(provider.signing_key_file, baseDir, readPrivateKey, 'a PEM private key', [...at, 'signing_key_file'], report);
    if (key) {
      result.signingKey = key;
      if (result.publicKeys && !result.publicKeys.some((p) => samePublicKey(p.key, key))) {
        report([...at, 'signing_key_file'], 'key_pair_mismatch', 'signing_key_file is not the private half of public_key_file');
      }
    }
  }
  if (provider.jwks_file !== undefined) {
    try {
      result.jwks = readJwksFile(path.resolve(baseDir, provider.jwks_file));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      report([...at, 'jwks_file'], /does not exist/.test(message) ? 'key_file_missing' : 'key_file_invalid', message.replace(path.resolve(baseDir, provider.jwks_file), provider.jwks_file));
    }
  }
  return result;
}

function readKey(file: string, baseDir: string, read: (file: string) => KeyObject, expected: string, where: ConfigPath, report: Report): KeyObject | undefined {
  const resolved = path.resolve(baseDir, file);
  let key: KeyObject;
  try {
    key = read(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') report(where, 'key_file_missing', `${file} does not exist (looked for ${resolved})`);
    else if (code === 'EACCES') report(where, 'key_file_unreadable', `${file} can not be read: permission denied`);
    else if (code === 'EISDIR') report(where, 'key_file_unreadable', `${file} is a directory, not a key file`);
    else report(where, 'key_file_invalid', `${file} is not ${expected}`);
    return undefined;
  }
  if (key.type !== 'secret' && algorithmsForKey(key).length === 0) {
    const why = key.asymmetricKeyType === 'rsa-pss' ? pssMismatch(key) : `a ${describeKey(key)}; use RSA, RSA-PSS, EC (P-256/384/521) or Ed25519`;
    report(where, 'key_type_unsupported', `${file} holds ${why}`);
    return undefined;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    report(where, 'key_too_small', `${file} holds a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    return undefined;
  }
  return key;
}

/**
 * Why an RSA-PSS key fits no PS algorithm, and the key that would. The classic case is OpenSSL's own:
 * `-pkeyopt rsa_pss_keygen_md:sha256` alone binds the key to MGF1 with SHA-1, which no JWS uses.
 */
function pssMismatch(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  const hash = details?.hashAlgorithm === 'sha384' || details?.hashAlgorithm === 'sha512' ? details.hashAlgorithm : 'sha256';
  return (
    `an RSA-PSS key whose parameters (hash ${details?.hashAlgorithm}, MGF1 ${details?.mgf1HashAlgorithm}, salt ${details?.saltLength}) match none of ` +
    'PS256/384/512 (RFC 7518 §3.5: one hash for both, salt as long as the hash); the signer needs a key made with ' +
    `openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:${hash} -pkeyopt rsa_pss_keygen_mgf1_md:${hash} ` +
    '(the MGF1 hash is SHA-1 unless given), or with no rsa_pss_keygen option at all'
  );
}

function samePublicKey(publicKey: KeyObject, privateKey: KeyObject): boolean {
  const der = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
  return der(createPublicKey(privateKey)).equals(der(publicKey));
}
