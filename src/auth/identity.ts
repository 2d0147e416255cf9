// A caller whose token has been verified.
import type { JWTPayload } from 'jose';
import type { Provider } from './provider.ts';

export interface Identity {
  readonly provider: Provider;
  readonly claims: JWTPayload;
  readonly subject: string | undefined;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  /** Upstream identity headers, computed once per token: [lower-case name, value]. */
  readonly headers: readonly (readonly [string, string])[];
  /** When the token stops being valid (exp), in ms since the epoch. */
  readonly expiresAtMs: number;
  /** The provider's key generation it was verified with: a key change invalidates cached identities. */
  readonly keyGeneration: number;
}
