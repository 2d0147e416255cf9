// portcullis token: mint a token a provider of this config accepts, for development and tests. Only
// providers whose signing key is in the config (a secret or a signing_key_file) can mint. A --claim always
// wins over what the command sets by itself (iss, aud, iat, exp from --ttl): `--claim exp=1` mints an
// expired token on purpose, and must not be quietly replaced.
import { SignJWT, type JWTPayload } from 'jose';
import { claimPath } from '../auth/claim-path.ts';
import { algorithmsForKey, jwsKeyOf, secretBytes } from '../auth/keys.ts';
import { loadConfigOrThrow } from '../config/load.ts';
import { DEFAULTS } from '../config/schema.ts';
import { DURATION_PATTERN, durationSeconds } from '../config/units.ts';
import { CONFIG_OPTION, configFile, parse, UsageError } from './args.ts';

const OPTIONS = {
  ...CONFIG_OPTION,
  provider: { type: 'string', short: 'p' },
  sub: { type: 'string', short: 's' },
  roles: { type: 'string', short: 'r' },
  scope: { type: 'string' },
  ttl: { type: 'string' },
  claim: { type: 'string', multiple: true },
} as const;

export async function tokenCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parse(args, OPTIONS);
  if (!values.provider || !values.sub) throw new UsageError('token needs --provider NAME and --sub ID');
  const ttl = values.ttl ?? '1h';
  if (!DURATION_PATTERN.test(ttl)) throw new UsageError(`--ttl ${ttl}: expected a duration like 15m or 1h`);
  const explicit = explicitClaims(values.claim ?? []);
  const named = new Set(explicit.map(([claimPath]) => claimPath[0]));
  if (named.has('sub')) throw new UsageError('--claim sub: give the subject with --sub');
  if (named.has('exp') && values.ttl !== undefined) throw new UsageError('give --ttl or --claim exp, not both');

  const loaded = loadConfigOrThrow(configFile(values.config));
  const providers = loaded.config.providers ?? [];
  const provider = providers.find((p) => p.name === values.provider);
  if (!provider) {
    throw new UsageError(`no provider "${values.provider}" in ${loaded.file}; providers: ${providers.map((p) => p.name).join(', ') || '(none)'}`);
  }
  const signingKey = loaded.providerKeys.get(provider.name)?.signingKey;
  let key: Uint8Array | NonNullable<typeof signingKey>;
  let alg: string;
  let kid: string | undefined;
  if (provider.secret !== undefined) {
    // The first secret is the current one; the others are being rotated in or out.
    const first = [provider.secret].flat()[0]!;
    key = secretBytes(typeof first === 'string' ? first : first.value, provider.secret_encoding ?? DEFAULTS.secret_encoding)!;
    kid = typeof first === 'string' ? undefined : first.kid;
    alg = provider.algorithms?.[0] ?? 'HS256';
  } else if (signingKey !== undefined) {
    key = jwsKeyOf(signingKey);
    const supported = algorithmsForKey(signingKey);
    alg = provider.algorithms?.find((a) => supported.includes(a)) ?? supported[0]!;
  } else {
    throw new UsageError(
      `provider "${provider.name}" has no signing key in ${loaded.file}: its tokens come from its identity provider. ` +
        'Give it a secret or a signing_key_file to mint tokens here.',
    );
  }

  const claims: JWTPayload = {};
  if (values.roles !== undefined) {
    setPath(claims, rolesPath([provider.roles_claim ?? DEFAULTS.roles_claim].flat()[0]!), values.roles.split(',').map((r) => r.trim()).filter(Boolean));
  }
  if (values.scope !== undefined) claims.scope = values.scope;
  for (const [claimPath, value] of explicit) setPath(claims, claimPath, value);
  checkTimeClaims(claims);

  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(kid !== undefined ? { kid } : {}), ...(provider.typ !== undefined ? { typ: provider.typ } : {}) })
    .setSubject(values.sub);
  if (claims.iat === undefined) jwt.setIssuedAt();
  if (claims.exp === undefined) jwt.setExpirationTime(`${durationSeconds(ttl)}s`);
  if (claims.iss === undefined && provider.issuer !== undefined) jwt.setIssuer(provider.issuer);
  if (claims.aud === undefined && provider.audience !== undefined) jwt.setAudience(provider.audience);
  out.write((await jwt.sign(key)) + '\n');
  return 0;
}

/** RFC 7519 §4.1: these hold a NumericDate, seconds since 1970-01-01T00:00:00Z. */
const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const;

/** --claim k=v and a.b=v as [claim path, value], in the order given. */
function explicitClaims(pairs: readonly string[]): [string[], unknown][] {
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim ${pair}: expected key=value`);
    return [pair.slice(0, eq).split('.'), parseValue(pair.slice(eq + 1))];
  });
}

function checkTimeClaims(claims: JWTPayload): void {
  for (const name of TIME_CLAIMS) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new UsageError(`--claim ${name}: expected seconds since 1970 (a NumericDate), like ${Math.floor(Date.now() / 1000) + 3600}`);
    }
  }
}

/**
 * --claim values: JSON when they parse (numbers, booleans, lists, objects), text otherwise. An integer
 * JSON can not hold exactly (beyond 2^53, which JSON.parse would round) is kept as the text written.
 */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text.replace(JSON_STRING_OR_NUMBER, (token) => (isInexactNumber(token) ? `"${token}"` : token)));
  } catch {
    return text;
  }
}

const JSON_STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

function isInexactNumber(token: string): boolean {
  if (token.startsWith('"')) return false;
  const value = Number(token);
  return !Number.isFinite(value) || (/^-?\d+$/.test(token) && !Number.isSafeInteger(value));
}

/**
 * Where --roles goes: the segments of roles_claim; a namespaced name ("https://example.com/roles",
 * "cognito:groups") is one top-level claim, as the gateway reads it.
 */
function rolesPath(text: string): readonly string[] {
  const path = claimPath(text);
  return path.topLevelName !== undefined && /[/:]/.test(path.topLevelName) ? [path.topLevelName] : path.segments;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = target;
  for (const part of path.slice(0, -1)) {
    const next = current[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) current[part] = {};
    current = current[part] as Record<string, unknown>;
  }
  current[path[path.length - 1]!] = value;
}
