// Provider rules beyond the schema: one key source each, key files that exist and hold the right kind of
// key, algorithms that key can really verify (RFC 8725 §3.1: no HS256 made with an RSA public key).
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { algorithmsForKey, ASYMMETRIC_ALGORITHMS, describeKey, HMAC_ALGORITHMS, readPrivateKey, readPublicKey } from '../auth/keys.ts';
import type { ConfigProblem } from './problems.ts';
import type { Algorithm, GatewayConfig, ProviderConfig } from './schema.ts';
import { problemAt, type ConfigSource } from './source.ts';

/** Keys read from files while checking, handed to compile so they are read once. */
export interface ProviderKeys {
  readonly publicKey?: KeyObject;
  readonly signingKey?: KeyObject;
}

export interface ProviderCheck {
  readonly problems: ConfigProblem[];
  readonly keys: ReadonlyMap<string, ProviderKeys>;
}

const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;

export function checkProviders(config: GatewayConfig, source: ConfigSource, baseDir: string): ProviderCheck {
  const problems: ConfigProblem[] = [];
  const keys = new Map<string, ProviderKeys>();
  const seenNames = new Map<string, number>();
  const seenIssuers = new Map<string, number>();
  (config.providers ?? []).forEach((provider, i) => {
    const at = (key: string | (string | number)[], code: string, message: string, severity: 'error' | 'warning' = 'error') =>
      problems.push(problemAt(source, ['providers', i, ...(Array.isArray(key) ? key : [key])], code, message, severity));

    const firstName = seenNames.get(provider.name);
    if (firstName !== undefined) at('name', 'duplicate_provider', `provider "${provider.name}" is already defined at providers[${firstName}]`);
    else seenNames.set(provider.name, i);

    if (provider.issuer !== undefined) {
      const firstIssuer = seenIssuers.get(provider.issuer);
      if (firstIssuer !== undefined) {
        at('issuer', 'duplicate_issuer', `providers[${firstIssuer}] has the same issuer; tokens are routed by iss, so issuers must be unique`);
      } else seenIssuers.set(provider.issuer, i);
    }

    const sources = (['secret', 'public_key_file', 'jwks_uri', 'discovery'] as const).filter((k) =>
      k === 'discovery' ? provider.discovery === true : provider[k] !== undefined,
    );
    if (sources.length === 0 && provider.signing_key_file === undefined) {
      at([], 'missing_key', 'a provider needs one of: secret, public_key_file, jwks_uri, discovery: true or signing_key_file');
    }
    if (sources.length > 1) {
      at(sources[1]!, 'conflicting_keys', `choose one of ${sources.join(' and ')}`);
    }
    if (provider.signing_key_file !== undefined && sources.some((s) => s !== 'public_key_file')) {
      at('signing_key_file', 'conflicting_keys', 'signing_key_file goes alone or with public_key_file, not with a secret or a JWKS');
    }
    if (provider.discovery === true && provider.issuer === undefined) {
      at('discovery', 'discovery_without_issuer', 'discovery needs issuer: the keys are found at {issuer}/.well-known/openid-configuration');
    }
    if (provider.jwks_uri !== undefined && /^http:\/\//.test(provider.jwks_uri) && !isLoopbackUrl(provider.jwks_uri)) {
      at('jwks_uri', 'insecure_jwks_uri', 'keys fetched over plain http can be replaced in transit; use https', 'warning');
    }
    if (provider.issuer === undefined && provider.audience === undefined) {
      at([], 'unbound_provider', `provider "${provider.name}" checks neither issuer nor audience: any token signed with its key is accepted`, 'warning');
    }
    if (provider.secret !== undefined && Buffer.byteLength(provider.secret) < MIN_SECRET_BYTES) {
      at('secret', 'short_secret', `the secret is ${Buffer.byteLength(provider.secret)} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (RFC 7518 §3.2)`, 'warning');
    }
    if (provider.roles_claim !== undefined && provider.roles_claim.split('.').some((part) => part === '')) {
      at('roles_claim', 'bad_claim_path', 'a claim path is names separated by single dots, like realm_access.roles');
    }

    const loaded = loadKeyFiles(provider, baseDir, at);
    keys.set(provider.name, loaded);
    if (provider.algorithms !== undefined) {
      const supported = supportedAlgorithms(provider, loaded);
      if (supported !== undefined) {
        provider.algorithms.forEach((alg, j) => {
          if (!supported.includes(alg)) {
            at(['algorithms', j], 'algorithm_key_mismatch', `${alg} can not be verified with ${keyDescription(provider, loaded)}; it allows ${supported.join(', ')}`);
          }
        });
      }
    }
  });
  return { problems, keys };
}

type At = (key: string | (string | number)[], code: string, message: string, severity?: 'error' | 'warning') => void;

function loadKeyFiles(provider: ProviderConfig, baseDir: string, at: At): ProviderKeys {
  const result: { publicKey?: KeyObject; signingKey?: KeyObject } = {};
  if (provider.public_key_file !== undefined) {
    const key = readKey(provider.public_key_file, baseDir, readPublicKey, 'a PEM public key or certificate', 'public_key_file', at);
    if (key) result.publicKey = key;
  }
  if (provider.signing_key_file !== undefined) {
    const key = readKey(provider.signing_key_file, baseDir, readPrivateKey, 'a PEM private key', 'signing_key_file', at);
    if (key) {
      result.signingKey = key;
      if (result.publicKey && !samePublicKey(result.publicKey, key)) {
        at('signing_key_file', 'key_pair_mismatch', 'signing_key_file is not the private half of public_key_file');
      }
    }
  }
  return result;
}

function readKey(
  file: string,
  baseDir: string,
  read: (file: string) => KeyObject,
  expected: string,
  field: string,
  at: At,
): KeyObject | undefined {
  const resolved = path.resolve(baseDir, file);
  let key: KeyObject;
  try {
    key = read(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') at(field, 'key_file_missing', `${file} does not exist (looked for ${resolved})`);
    else if (code === 'EACCES') at(field, 'key_file_unreadable', `${file} can not be read: permission denied`);
    else if (code === 'EISDIR') at(field, 'key_file_unreadable', `${file} is a directory, not a key file`);
    else at(field, 'key_file_invalid', `${file} is not ${expected}`);
    return undefined;
  }
  if (key.type !== 'secret' && algorithmsForKey(key).length === 0) {
    at(field, 'key_type_unsupported', `${file} holds a ${describeKey(key)}; use RSA, EC (P-256/384/521) or Ed25519`);
    return undefined;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    at(field, 'key_too_small', `${file} holds a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    return undefined;
  }
  return key;
}

function samePublicKey(publicKey: KeyObject, privateKey: KeyObject): boolean {
  const exportOf = (k: KeyObject) => k.export({ format: 'jwk' });
  const derived = exportOf(privateKey);
  const pub = exportOf(publicKey);
  return derived.n === pub.n && derived.x === pub.x && derived.y === pub.y && derived.e === pub.e;
}

/** Algorithms the provider's key can verify; undefined when the key could not be loaded. */
export function supportedAlgorithms(provider: ProviderConfig, keys: ProviderKeys): readonly Algorithm[] | undefined {
  if (provider.secret !== undefined) return HMAC_ALGORITHMS;
  if (provider.jwks_uri !== undefined || provider.discovery === true) return ASYMMETRIC_ALGORITHMS;
  const key = keys.publicKey ?? keys.signingKey;
  return key ? algorithmsForKey(key) : undefined;
}

function keyDescription(provider: ProviderConfig, keys: ProviderKeys): string {
  if (provider.secret !== undefined) return 'a shared secret';
  if (provider.jwks_uri !== undefined || provider.discovery === true) return 'JWKS public keys';
  const key = keys.publicKey ?? keys.signingKey;
  return key ? `an ${describeKey(key)}` : 'this key';
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}
