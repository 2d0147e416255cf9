// Providers: the token issuers the gateway trusts, and how a token finds its provider (by its `iss`).
import type { JWTVerifyOptions } from 'jose';
import type { Algorithm } from '../config/schema.ts';
import type { ClaimPath } from './claims.ts';
import type { KeySource } from './keys.ts';

export interface Provider {
  readonly name: string;
  readonly issuer: string | undefined;
  readonly keys: KeySource;
  readonly algorithms: readonly Algorithm[];
  readonly rolesClaim: ClaimPath;
  /** Options handed to jose for every verification, built once. */
  readonly verifyOptions: JWTVerifyOptions;
}

export class ProviderDirectory {
  readonly all: readonly Provider[];
  private readonly byIssuer: ReadonlyMap<string, Provider>;
  private readonly anyIssuer: readonly Provider[];
  private readonly byName: ReadonlyMap<string, Provider>;

  constructor(providers: readonly Provider[]) {
    this.all = providers;
    this.byIssuer = new Map(providers.filter((p) => p.issuer !== undefined).map((p) => [p.issuer!, p]));
    this.anyIssuer = providers.filter((p) => p.issuer === undefined);
    this.byName = new Map(providers.map((p) => [p.name, p]));
  }

  get(name: string): Provider | undefined {
    return this.byName.get(name);
  }

  /**
   * The providers that may verify a token with this `iss`. A provider whose issuer matches is the only
   * candidate: a token claiming to come from one issuer is never verified with another provider's key.
   */
  candidatesFor(iss: unknown): readonly Provider[] {
    if (typeof iss === 'string') {
      const exact = this.byIssuer.get(iss);
      if (exact) return [exact];
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
