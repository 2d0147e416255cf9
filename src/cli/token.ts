// portcullis token: mint a token a provider of this config accepts, for development and tests. Only
// providers whose signing key is in the config (a secret or a signing_key_file) can mint.
import { SignJWT, type JWTPayload } from 'jose';
import { algorithmsForKey } from '../auth/keys.ts';
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

  const loaded = loadConfigOrThrow(configFile(values.config));
  const providers = loaded.config.providers ?? [];
  const provider = providers.find((p) => p.name === values.provider);
  if (!provider) {
    throw new UsageError(`no provider "${values.provider}" in ${loaded.file}; providers: ${providers.map((p) => p.name).join(', ') || '(none)'}`);
  }
  const signingKey = loaded.providerKeys.get(provider.name)?.signingKey;
  let key: Uint8Array | NonNullable<typeof signingKey>;
  let alg: string;
  if (provider.secret !== undefined) {
    key = new TextEncoder().encode(provider.secret);
    alg = provider.algorithms?.[0] ?? 'HS256';
  } else if (signingKey !== undefined) {
    key = signingKey;
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
    setPath(claims, (provider.roles_claim ?? DEFAULTS.roles_claim).split('.'), values.roles.split(',').map((r) => r.trim()).filter(Boolean));
  }
  if (values.scope !== undefined) claims.scope = values.scope;
  for (const pair of values.claim ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim ${pair}: expected key=value`);
    setPath(claims, pair.slice(0, eq).split('.'), parseValue(pair.slice(eq + 1)));
  }

  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(provider.typ !== undefined ? { typ: provider.typ } : {}) })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(`${durationSeconds(ttl)}s`);
  if (provider.issuer !== undefined) jwt.setIssuer(provider.issuer);
  if (provider.audience !== undefined) jwt.setAudience(provider.audience);
  out.write((await jwt.sign(key)) + '\n');
  return 0;
}

/** --claim values: JSON when they parse (numbers, booleans, lists, objects), text otherwise. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
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
