// Why a key set could not be fetched, as a value: readiness shows it to whoever can reach the admin port,
// so it names the kind of failure and never the URL or host the keys come from. The full message, address
// included, is for the log.
export type KeyFailure =
  | { readonly kind: 'http_status'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connect'; readonly code: string }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'redirect' }
  | { readonly kind: 'not_json' }
  | { readonly kind: 'no_keys' }
  | { readonly kind: 'discovery' }
  /** The discovery document names another issuer: both are shown (every token names its issuer anyway). */
  | { readonly kind: 'issuer_mismatch'; readonly expected: string; readonly found: string; readonly difference?: string }
  | { readonly kind: 'file'; readonly problem: string }
  | { readonly kind: 'other' };

/** A failed fetch: `message` (with the address) for the log, `failure` for everyone else. */
export class KeyFetchError extends Error {
  readonly code = 'ERR_KEY_FETCH';
  constructor(
    message: string,
    readonly failure: KeyFailure,
  ) {
    super(message);
  }
}

export function describeKeyFailure(failure: KeyFailure): string {
  switch (failure.kind) {
    case 'http_status':
      return `HTTP ${failure.status}`;
    case 'timeout':
      return 'timed out';
    case 'connect':
      return `could not connect: ${failure.code}`;
    case 'too_large':
      return 'the key set is over 1 MB';
    case 'redirect':
      return 'redirected to another origin or to plain http';
    case 'not_json':
      return 'the key set is not JSON';
    case 'no_keys':
      return 'the key set has no "keys" list';
    case 'discovery':
      return 'OpenID discovery failed';
    case 'issuer_mismatch':
      return `the discovery document names the issuer ${JSON.stringify(failure.found)}, not the configured ${JSON.stringify(failure.expected)}${failure.difference !== undefined ? ` (it ${failure.difference})` : ''}`;
    case 'file':
      return failure.problem;
    case 'other':
      return 'fetch failed';
  }
}
