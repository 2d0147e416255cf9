// A provider as the runtime uses it: its key source (secrets, PEM files, a JWKS URL, discovery or a local
// JWKS file), the options jose verifies with, its issuer template, claim paths, require_claims, token
// sources and identity headers. Built once per config.
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import type { JWTVerifyOptions } from 'jose';
import { claimPath } from '../auth/claim-path.ts';
import { compileCondition, type ConditionSpec } from '../auth/conditions.ts';
import { parseTokenSource } from '../auth/extract.ts';
import { compileIssuerTemplate, isIssuerTemplate } from '../auth/issuer.ts';
import { JwksFileSource } from '../auth/jwks-file.ts';
import { discoveryUrlOf, JwksKeySource, type JwksEvents } from '../auth/jwks.ts';
import { publicKeySource, secretBytes, secretKeySource, type KeySource } from '../auth/keys.ts';
import type { IdentityHeaderSpec, Provider } from '../auth/provider.ts';
import { supportedAlgorithms, type ProviderKeys } from './check-providers.ts';
import type { LoadedConfig } from './load.ts';
import { DEFAULTS, type Algorithm, type ProviderConfig } from './schema.ts';
import { parseDuration } from './units.ts';

export interface ProviderContext {
  readonly loaded: LoadedConfig;
  /** JWKS sources of the config being replaced, by what they fetch: reused, keys and all. */
  readonly reusable: ReadonlyMap<string, KeySource>;
  readonly events: JwksEvents | undefined;
  /** forward.headers, which the provider's own entries override by name. */
  readonly globalHeaders: readonly IdentityHeaderSpec[];
}

export async function compileProvider(config: ProviderConfig, context: ProviderContext): Promise<Provider> {
  const keys = context.loaded.providerKeys.get(config.name) ?? {};
  const algorithms = config.algorithms ?? supportedAlgorithms(config, keys) ?? [];
  const template = config.issuer !== undefined && isIssuerTemplate(config.issuer) ? compileIssuerTemplate(config.issuer, config.tenants) : undefined;
  const audience = config.audience === undefined ? undefined : [config.audience].flat();
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...algorithms],
    requiredClaims: ['exp'],
    clockTolerance: parseDuration(config.clock_tolerance ?? DEFAULTS.clock_tolerance) / 1000,
    // An issuer template is checked after the signature, against the token's own tenant (verify.ts).
    ...(config.issuer !== undefined && template === undefined ? { issuer: config.issuer } : {}),
    ...(audience !== undefined ? { audience } : {}),
    ...(config.typ !== undefined ? { typ: config.typ } : {}),
  };
  return {
    name: config.name,
    issuer: template === undefined ? config.issuer : undefined,
    issuerTemplate: template,
    keys: await keySource(config, keys, algorithms, context),
    algorithms,
    rolesClaims: [config.roles_claim ?? DEFAULTS.roles_claim].flat().map(claimPath),
    scopesClaims: [config.scopes_claim ?? DEFAULTS.scopes_claim].flat().map(claimPath),
    requiredClaims: Object.entries(config.require_claims ?? {}).map(([claim, spec]) => compileCondition(claimPath(claim), spec as ConditionSpec)),
    tokenSources: new Set((config.token_from ?? DEFAULTS.token_from).map((text) => parseTokenSource(text).key)),
    identityHeaders: mergeHeaders(context.globalHeaders, compileHeaders(config.forward?.headers)),
    verifyOptions,
  };
}

async function keySource(config: ProviderConfig, keys: ProviderKeys, algorithms: readonly Algorithm[], context: ProviderContext): Promise<KeySource> {
  if (config.secret !== undefined) {
    const encoding = config.secret_encoding ?? DEFAULTS.secret_encoding;
    const secrets = [config.secret].flat().map((entry) => {
      const { value, kid } = typeof entry === 'string' ? { value: entry, kid: undefined } : entry;
      return { bytes: secretBytes(value, encoding)!, kid };
    });
    return secretKeySource(secrets, algorithms);
  }
  if (config.jwks_uri !== undefined || config.discovery !== undefined && config.discovery !== false) {
    const discovery = config.discovery;
    const fresh = new JwksKeySource({
      provider: config.name,
      ...(config.jwks_uri !== undefined
        ? { jwksUri: config.jwks_uri }
        : {
            discoveryIssuer: config.issuer!,
            ...(typeof discovery === 'string' ? { discoveryUrl: discovery.includes('/.well-known/') ? discovery : discoveryUrlOf(discovery) } : {}),
          }),
      refreshMs: parseDuration(config.jwks_refresh ?? DEFAULTS.jwks_refresh),
      cooldownMs: parseDuration(config.jwks_cooldown ?? DEFAULTS.jwks_cooldown),
      ...(context.events ? { events: context.events } : {}),
    });
    return context.reusable.get(jwksIdentity(fresh)) ?? fresh;
  }
  if (config.jwks_file !== undefined) {
    const file = path.resolve(context.loaded.baseDir, config.jwks_file);
    return new JwksFileSource(config.name, file, keys.jwks!, context.events);
  }
  const publicKeys = keys.publicKeys ?? [{ key: createPublicKey(keys.signingKey!) }];
  return publicKeySource(publicKeys, algorithms);
}

/** Two JWKS sources are interchangeable when they fetch the same thing the same way for the same provider. */
export function jwksIdentity(source: KeySource): string {
  if (!(source instanceof JwksKeySource)) return '';
  return JSON.stringify(source.describe());
}

export function compileHeaders(headers: Record<string, string | string[]> | undefined): IdentityHeaderSpec[] {
  return Object.entries(headers ?? {}).map(([name, claims]) => ({ name: name.toLowerCase(), claims: [claims].flat().map(claimPath) }));
}

/** The global entries, each replaced by the provider's entry of the same name, then the provider's others. */
function mergeHeaders(global: readonly IdentityHeaderSpec[], own: readonly IdentityHeaderSpec[]): readonly IdentityHeaderSpec[] {
  if (own.length === 0) return global;
  const byName = new Map(own.map((spec) => [spec.name, spec]));
  return [...global.map((spec) => byName.get(spec.name) ?? spec), ...own.filter((spec) => !global.some((g) => g.name === spec.name))];
}
