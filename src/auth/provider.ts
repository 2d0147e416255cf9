// Providers: the token issuers the gateway trusts, and how a token finds its provider (by its `iss`).
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { Algorithm } from '../config/schema.ts';
import type { ClaimPath } from './claim-path.ts';
import type { ClaimCondition } from './conditions.ts';
import { tenantOf, type IssuerTemplate } from './issuer.ts';
import type { KeySource } from './keys.ts';

/** An upstream identity header: the first of `claims` present in the token fills it. */
export interface IdentityHeaderSpec {
  /** Lower-case header name. */
  readonly name: string;
  readonly claims: readonly ClaimPath[];
}

export interface Provider {
  readonly name: string;
  /** The fixed issuer; undefined for a template or no issuer. */
  readonly issuer: string | undefined;
  /** A multi-tenant issuer ({tid} bound to the token's tid claim). */
  readonly issuerTemplate: IssuerTemplate | undefined;
  readonly keys: KeySource;
  readonly algorithms: readonly Algorithm[];
  readonly rolesClaims: readonly ClaimPath[];
  readonly scopesClaims: readonly ClaimPath[];
  /** require_claims: checked at verification, so a cached identity has met them. */
  readonly requiredClaims: readonly ClaimCondition[];
  /** Keys of the token sources (TokenSource.key) this provider's tokens may come from. */
  readonly tokenSources: ReadonlySet<string>;
  /** forward.headers with this provider's own entries over the global ones. */
  readonly identityHeaders: readonly IdentityHeaderSpec[];
  /** Options handed to jose for every verification, built once. */
  readonly verifyOptions: JWTVerifyOptions;
}

export class ProviderDirectory {
  readonly all: readonly Provider[];
  /** Every configured issuer and issuer template, for "did you mean" hints. */
  readonly issuers: readonly string[];
  private readonly byIssuer: ReadonlyMap<string, Provider>;
  private readonly templated: readonly Provider[];
  private readonly anyIssuer: readonly Provider[];
  private readonly byName: ReadonlyMap<string, Provider>;

  constructor(providers: readonly Provider[]) {
    this.all = providers;
    this.byIssuer = new Map(providers.filter((p) => p.issuer !== undefined).map((p) => [p.issuer!, p]));
    this.templated = providers.filter((p) => p.issuerTemplate !== undefined);
    this.anyIssuer = providers.filter((p) => p.issuer === undefined && p.issuerTemplate === undefined);
    this.byName = new Map(providers.map((p) => [p.name, p]));
    this.issuers = providers.flatMap((p) => p.issuer ?? p.issuerTemplate?.source ?? []);
  }

  get(name: string): Provider | undefined {
    return this.byName.get(name);
  }

  /**
   * The providers that may verify a token with these (unverified) claims. A provider whose issuer matches
   * is the only candidate: a token claiming to come from one issuer is never verified with another
   * provider's key. Then the issuer templates the `iss` fits, then the providers without issuer.
   */
  candidatesFor(claims: JWTPayload): readonly Provider[] {
    const iss = claims.iss;
    if (typeof iss === 'string') {
      const exact = this.byIssuer.get(iss);
      if (exact) return [exact];
      if (this.templated.length > 0) {
        const fitting = this.templated.filter((p) => tenantOf(p.issuerTemplate!, iss) !== undefined);
        if (fitting.length > 0) return fitting;
      }
    }
    return this.anyIssuer;
  }

  start(): void {
    for (const p of this.all) p.keys.start();
  }

  stop(): void {
    for (const p of this.all) p.keys.stop();
  }
}
