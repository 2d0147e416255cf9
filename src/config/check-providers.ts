// Provider rules beyond the schema: one key source each, key files that exist and hold the right kind of
// key, algorithms that key can really verify (RFC 8725 §3.1: no HS256 made with an RSA public key),
// secrets that decode, issuer templates that make sense, and valid claim paths and token sources.
import { isIssuerTemplate } from '../auth/issuer.ts';
import { ASYMMETRIC_ALGORITHMS, describeKey, HMAC_ALGORITHMS, secretBytes, algorithmsForKey } from '../auth/keys.ts';
import { checkClaimPath, checkClaimPaths, checkHeaderMap, checkTokenFrom, reporter, type Report } from './check-claims.ts';
import { loadKeyFiles, type ProviderKeys } from './check-keys.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type Algorithm, type GatewayConfig, type ProviderConfig } from './schema.ts';
import type { ConfigSource } from './source.ts';
import { parseDuration } from './units.ts';

export type { ProviderKeys } from './check-keys.ts';

export interface ProviderCheck {
  readonly problems: ConfigProblem[];
  readonly keys: ReadonlyMap<string, ProviderKeys>;
}

const MIN_SECRET_BYTES = 32;
const KEY_SOURCES = ['secret', 'public_key_file', 'jwks_uri', 'discovery', 'jwks_file'] as const;

export function checkProviders(config: GatewayConfig, source: ConfigSource, baseDir: string): ProviderCheck {
  const problems: ConfigProblem[] = [];
  const report = reporter(source, problems);
  const keys = new Map<string, ProviderKeys>();
  const seenNames = new Map<string, number>();
  const seenIssuers = new Map<string, number>();
  (config.providers ?? []).forEach((provider, i) => {
    const base = ['providers', i];
    const at = (key: string | (string | number)[], code: string, message: string, severity: 'error' | 'warning' = 'error') =>
      report([...base, ...(Array.isArray(key) ? key : [key])], code, message, severity);

    const firstName = seenNames.get(provider.name);
    if (firstName !== undefined) at('name', 'duplicate_provider', `provider "${provider.name}" is already defined at providers[${firstName}]`);
    else seenNames.set(provider.name, i);

    if (provider.issuer !== undefined) {
      const firstIssuer = seenIssuers.get(provider.issuer);
      if (firstIssuer !== undefined) {
        at('issuer', 'duplicate_issuer', `providers[${firstIssuer}] has the same issuer; tokens are routed by iss, so issuers must be unique`);
      } else seenIssuers.set(provider.issuer, i);
    }

    checkKeySources(provider, at);
    // A refresh every 0ms is a fetch loop against the identity provider that never pauses.
    if (provider.jwks_refresh !== undefined && parseDuration(provider.jwks_refresh) === 0) {
      at('jwks_refresh', 'zero_timeout', 'jwks_refresh must be longer than 0: keys would be fetched again and again without a pause');
    }
    checkIssuer(provider, at);
    checkSecrets(provider, at);
    checkClaimPaths(provider.roles_claim, [...base, 'roles_claim'], report);
    checkClaimPaths(provider.scopes_claim, [...base, 'scopes_claim'], report);
    for (const claim of Object.keys(provider.require_claims ?? {})) checkClaimPath(claim, [...base, 'require_claims', claim], report, true);
    checkTokenFrom(provider.token_from, [...base, 'token_from'], report);
    checkHeaderMap(provider.forward?.headers, [...base, 'forward', 'headers'], report);

    const loaded = loadKeyFiles(provider, baseDir, base, report);
    keys.set(provider.name, loaded);
    checkAlgorithms(provider, loaded, at);
  });
  return { problems, keys };
}

type At = (key: string | (string | number)[], code: string, message: string, severity?: 'error' | 'warning') => void;

function checkKeySources(provider: ProviderConfig, at: At): void {
  const sources = KEY_SOURCES.filter((k) => (k === 'discovery' ? provider.discovery !== undefined && provider.discovery !== false : provider[k] !== undefined));
  if (sources.length === 0 && provider.signing_key_file === undefined) {
    at([], 'missing_key', 'a provider needs one of: secret, public_key_file, jwks_uri, discovery, jwks_file or signing_key_file');
  }
  if (sources.length > 1) at(sources[1]!, 'conflicting_keys', `choose one of ${sources.join(' and ')}`);
  if (provider.signing_key_file !== undefined && sources.some((s) => s !== 'public_key_file')) {
    at('signing_key_file', 'conflicting_keys', 'signing_key_file goes alone or with public_key_file, not with a secret or a JWKS');
  }
  if (provider.discovery === true && provider.issuer === undefined) {
    at('discovery', 'discovery_without_issuer', 'discovery needs issuer: the keys are found at {issuer}/.well-known/openid-configuration');
  }
  if (typeof provider.discovery === 'string' && provider.issuer === undefined) {
    at('discovery', 'discovery_without_issuer', 'discovery needs issuer: the discovery document must name it');
  }
  for (const key of ['jwks_uri', 'discovery'] as const) {
    const url = provider[key];
    if (typeof url === 'string' && /^http:\/\//.test(url) && !isLoopbackUrl(url)) {
      at(key, 'insecure_jwks_uri', 'keys fetched over plain http can be replaced in transit; use https', 'warning');
    }
  }
  if (provider.issuer === undefined && provider.audience === undefined) {
    at([], 'unbound_provider', `provider "${provider.name}" checks neither issuer nor audience: any token signed with its key is accepted`, 'warning');
  }
}

/** An issuer template: one placeholder, a discovery document to read it from, tenants only with one. */
function checkIssuer(provider: ProviderConfig, at: At): void {
  const issuer = provider.issuer;
  const template = issuer !== undefined && isIssuerTemplate(issuer);
  if (!template) {
    if (provider.tenants !== undefined) at('tenants', 'tenants_without_template', 'tenants needs an issuer template with a {claim} placeholder, like https://login.microsoftonline.com/{tid}/v2.0');
    if (issuer !== undefined && /[{}]/.test(issuer)) at('issuer', 'bad_issuer_template', 'a placeholder is a claim name in braces, like {tid}');
    return;
  }
  if ((issuer.match(/\{/g) ?? []).length !== 1 || (issuer.match(/\}/g) ?? []).length !== 1) {
    at('issuer', 'bad_issuer_template', 'an issuer template has exactly one {claim} placeholder');
  }
  if (provider.discovery === true) {
    at('discovery', 'discovery_needs_url', 'an issuer template has no discovery document of its own; give the URL of the common one, e.g. discovery: https://login.microsoftonline.com/organizations/v2.0');
  }
  if (provider.tenants === undefined && provider.audience === undefined) {
    at('issuer', 'any_tenant', 'tokens of every tenant of this issuer, for any application, are accepted; list tenants or set audience', 'warning');
  }
}

function checkSecrets(provider: ProviderConfig, at: At): void {
  if (provider.secret === undefined) {
    if (provider.secret_encoding !== undefined) at('secret_encoding', 'encoding_without_secret', 'secret_encoding applies to a secret; this provider has none');
    return;
  }
  const encoding = provider.secret_encoding ?? DEFAULTS.secret_encoding;
  const many = Array.isArray(provider.secret);
  const kids = new Set<string>();
  [provider.secret].flat().forEach((entry, j) => {
    const { value, kid } = typeof entry === 'string' ? { value: entry, kid: undefined } : entry;
    const where = ['secret', ...(many ? [j] : []), ...(typeof entry === 'string' ? [] : ['value'])];
    // The secret itself is never repeated in a message.
    const bytes = secretBytes(value, encoding);
    if (bytes === undefined) {
      at(where, 'bad_secret_encoding', `the secret is not ${encoding} text (secret_encoding: ${encoding}); check for stray characters or the wrong encoding`);
    } else if (bytes.length < MIN_SECRET_BYTES) {
      at(where, 'short_secret', `the secret is ${bytes.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (RFC 7518 §3.2)`, 'warning');
    }
    if (kid !== undefined) {
      if (kids.has(kid)) at(where, 'duplicate_kid', `another secret already has the kid "${kid}"`);
      kids.add(kid);
    }
  });
}

function checkAlgorithms(provider: ProviderConfig, loaded: ProviderKeys, at: At): void {
  if (provider.algorithms === undefined) return;
  const supported = supportedAlgorithms(provider, loaded);
  if (supported === undefined) return;
  provider.algorithms.forEach((alg, j) => {
    if (!supported.includes(alg)) {
      at(['algorithms', j], 'algorithm_key_mismatch', `${alg} can not be verified with ${keyDescription(provider, loaded)}; it allows ${supported.join(', ')}`);
    }
  });
}

/** Algorithms the provider's keys can verify; undefined when a key could not be loaded. */
export function supportedAlgorithms(provider: ProviderConfig, keys: ProviderKeys): readonly Algorithm[] | undefined {
  if (provider.secret !== undefined) return HMAC_ALGORITHMS;
  if (provider.jwks_uri !== undefined || (provider.discovery !== undefined && provider.discovery !== false) || provider.jwks_file !== undefined) {
    return ASYMMETRIC_ALGORITHMS;
  }
  if (keys.publicKeys !== undefined) return [...new Set(keys.publicKeys.flatMap((k) => algorithmsForKey(k.key)))];
  return keys.signingKey ? algorithmsForKey(keys.signingKey) : undefined;
}

function keyDescription(provider: ProviderConfig, keys: ProviderKeys): string {
  if (provider.secret !== undefined) return 'a shared secret';
  if (provider.jwks_uri !== undefined || provider.discovery || provider.jwks_file !== undefined) return 'JWKS public keys';
  const key = keys.publicKeys?.[0]?.key ?? keys.signingKey;
  if (keys.publicKeys !== undefined && keys.publicKeys.length > 1) return 'these keys';
  return key ? `an ${describeKey(key)}` : 'this key';
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

export type { Report };
