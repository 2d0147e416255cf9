// A JWKS key source that keeps serving through identity-provider outages: keys are fetched at start (with
// backoff until the first success), refreshed periodically, refetched at most once per cooldown when a
// token names an unknown kid, and a failed fetch never throws away the keys already held.
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import type { Algorithm } from '../config/schema.ts';
import { fetchJson } from './jwks-fetch.ts';
import type { JwksFileEvents } from './jwks-file.ts';
import { discoveredIssuerMatches, issuerDifference } from './issuer.ts';
import { KeyFetchError, type KeyFailure } from './key-failure.ts';
import { ASYMMETRIC_ALGORITHMS, KeysUnavailableError, type KeySource, type KeyStatus, type VerificationKey } from './keys.ts';

export interface JwksEvents extends Partial<JwksFileEvents> {
  /** Every fetch attempt, for metrics and logs. */
  onFetch(provider: string, outcome: { ok: true; keys: number; changed: boolean } | { ok: false; error: string }): void;
}

export interface JwksOptions {
  readonly provider: string;
  /** The JWKS URL, or undefined to discover it from the issuer. */
  readonly jwksUri?: string;
  /** The issuer (or issuer template) the discovery document must name. */
  readonly discoveryIssuer?: string;
  /** Where the discovery document is; default {discoveryIssuer}/.well-known/openid-configuration. */
  readonly discoveryUrl?: string;
  readonly refreshMs: number;
  readonly cooldownMs: number;
  readonly timeoutMs?: number;
  readonly events?: JwksEvents;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export class JwksKeySource implements KeySource {
  readonly kind = 'jwks';
  readonly supportedAlgorithms: readonly Algorithm[] = ASYMMETRIC_ALGORITHMS;
  generation = 0;

  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private fingerprint = '';
  private keyCount = 0;
  private fetchedAt: Date | undefined;
  private lastError: string | undefined;
  private lastFailure: KeyFailure | undefined;
  private lastAttemptAt = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = FIRST_RETRY_MS;
  private started = false;
  private stopped = false;
  private resolvedUri: string | undefined;
  private settled: Promise<void> | undefined;
  /** Cuts a fetch in flight when the source stops: an identity provider that hangs must not hold up an exit. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: JwksOptions) {
    this.resolvedUri = options.jwksUri;
  }

  /** What this source fetches and how: equal descriptions mean interchangeable sources. */
  describe(): JwksOptions {
    const { events: _events, ...rest } = this.options;
    return rest;
  }

  get ready(): boolean {
    return this.keySet !== undefined;
  }

  status(): KeyStatus {
    return {
      ready: this.ready,
      keyCount: this.keyCount,
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
      ...(this.lastFailure !== undefined ? { failure: this.lastFailure } : {}),
      ...(this.fetchedAt ? { fetchedAt: this.fetchedAt } : {}),
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.settled = this.cycle();
  }

  whenSettled(): Promise<void> {
    this.start();
    return this.settled!;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort();
  }

  async resolve(header: JWSHeaderParameters): Promise<VerificationKey> {
    if (this.keySet === undefined) {
      throw new KeysUnavailableError(this.lastError ?? 'keys have not been fetched yet');
    }
    try {
      return await this.keySet(header);
    } catch (err) {
      // A kid we have never seen may be a freshly rotated key: refetch, but at most once per cooldown so
      // that tokens with made-up kids can not turn the gateway into a load generator against the IdP.
      // Requests that arrive while that refetch is under way wait for it rather than fail: the first
      // requests after a rotation come together.
      if (!isNoMatchingKey(err)) throw err;
      if (this.inFlight === undefined && Date.now() - this.lastAttemptAt < this.options.cooldownMs) throw err;
      await this.refresh();
      return this.keySet!(header);
    }
  }

  /** Fetch, then schedule the next fetch: a retry with backoff after a failure, else a periodic refresh. */
  private async cycle(): Promise<void> {
    await this.refresh();
    if (this.stopped) return;
    let delay: number;
    if (this.lastError !== undefined) {
      delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS, this.ready ? this.options.refreshMs : MAX_RETRY_MS);
    } else {
      this.retryMs = FIRST_RETRY_MS;
      delay = this.options.refreshMs;
    }
    this.timer = setTimeout(() => void this.cycle(), delay);
    this.timer.unref();
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchKeys().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastAttemptAt = Date.now();
    try {
      const uri = this.resolvedUri ?? (await this.discover());
      const jwks = parseJwks(await fetchJson(uri, this.options.timeoutMs, this.stopping.signal));
      const fingerprint = JSON.stringify(jwks.keys);
      const changed = fingerprint !== this.fingerprint;
      if (changed) {
        this.keySet = createLocalJWKSet(jwks);
        this.fingerprint = fingerprint;
        this.keyCount = jwks.keys.length;
        this.generation++;
      }
      this.fetchedAt = new Date();
      this.lastError = undefined;
      this.lastFailure = undefined;
      this.options.events?.onFetch(this.options.provider, { ok: true, keys: jwks.keys.length, changed });
    } catch (err) {
      if (this.stopped) return;
      const { message, failure } = describeFetchError(err);
      this.lastError = message;
      this.lastFailure = failure;
      this.options.events?.onFetch(this.options.provider, { ok: false, error: message });
    }
  }

  private async discover(): Promise<string> {
    const issuer = this.options.discoveryIssuer!;
    const url = this.options.discoveryUrl ?? discoveryUrlOf(issuer);
    const document = (await fetchJson(url, this.options.timeoutMs, this.stopping.signal)) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if (!discoveredIssuerMatches(issuer, document.issuer)) throw issuerMismatch(url, issuer, document.issuer);
    if (typeof document.jwks_uri !== 'string' || !/^https?:\/\//.test(document.jwks_uri)) {
      throw new KeyFetchError(`discovery document at ${url} has no usable jwks_uri`, { kind: 'discovery' });
    }
    this.resolvedUri = document.jwks_uri;
    return document.jwks_uri;
  }
}

/** OpenID Connect Discovery §4: the document is at the issuer's own "/.well-known/openid-configuration". */
export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Both issuers, and the usual reason they differ: an operator fixes this from the message alone. */
function issuerMismatch(url: string, expected: string, found: unknown): KeyFetchError {
  const text = typeof found === 'string' ? found.slice(0, 200) : '(none)';
  const difference = typeof found === 'string' ? issuerDifference(expected, found) : undefined;
  const failure: KeyFailure = { kind: 'issuer_mismatch', expected, found: text, ...(difference !== undefined ? { difference } : {}) };
  return new KeyFetchError(`discovery document at ${url} names the issuer ${JSON.stringify(text)}, but the provider's issuer is ${JSON.stringify(expected)}${difference !== undefined ? ` (it ${difference})` : ''}`, failure);
}

function isNoMatchingKey(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ERR_JWKS_NO_MATCHING_KEY';
}

export function parseJwks(value: unknown): JSONWebKeySet {
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => k !== null && typeof k === 'object')) {
    throw new KeyFetchError('the JWKS document has no "keys" list', { kind: 'no_keys' });
  }
  // Private or symmetric material has no business in a published key set: never use it.
  const usable = keys.filter((k: Record<string, unknown>) => k.kty !== 'oct' && k.d === undefined);
  return { keys: usable as JSONWebKeySet['keys'] };
}

/** The log message (address included) and the address-free failure of whatever a fetch threw. */
function describeFetchError(err: unknown): { message: string; failure: KeyFailure } {
  if (err instanceof KeyFetchError) return { message: err.message, failure: err.failure };
  return { message: err instanceof Error ? err.message : String(err), failure: { kind: 'other' } };
}
