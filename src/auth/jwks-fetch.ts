// Fetching a key set or a discovery document from a server that may be hostile, or taken over: its body is
// counted as it arrives, after decompression, and cut at the limit; it may redirect only within its own
// origin, never to another host or from https to http.
import { KeyFetchError } from './key-failure.ts';

/** A key set is a few KB; 1 MB is far beyond any real one. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * GET `url` and parse its JSON; every failure is a KeyFetchError whose message names the address (without
 * any user name or password in it): "fetch failed" alone tells an operator nothing about which of a
 * discovery document and its key set is down.
 */
export async function fetchJson(url: string, timeoutMs = 5000, cancel?: AbortSignal): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel === undefined ? timeout : eitherSignal(timeout, cancel);
  const shown = shownUrl(url);
  let current = new URL(url);
  // fetch refuses such a URL, with a message that repeats it, password and all.
  if (shown !== url) throw new KeyFetchError(`${shown}: the URL carries a user name or password, which is never sent`, { kind: 'other' });
  try {
    for (let redirects = 0; ; redirects++) {
      // Redirects are followed here, not by fetch: fetch would go anywhere the server says.
      const response = await fetch(current, { headers: { accept: 'application/json' }, redirect: 'manual', signal });
      if (!REDIRECT_STATUSES.has(response.status)) return parseJson(await readBody(response, shown), shown);
      await response.body?.cancel();
      current = redirectTarget(current, response.headers.get('location'), redirects, shown);
    }
  } catch (err) {
    throw err instanceof KeyFetchError ? err : networkFailure(err, current, timeout.aborted, timeoutMs);
  }
}

/** Aborted when either is (AbortSignal.any, which Node 20's first releases lack). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (b.aborted) return b;
  const both = new AbortController();
  const abort = (from: AbortSignal) => () => both.abort(from.reason);
  a.addEventListener('abort', abort(a), { once: true });
  b.addEventListener('abort', abort(b), { once: true });
  return both.signal;
}

/** A fetch that got no answer: refused, unresolved, reset, or too slow. */
function networkFailure(err: unknown, url: URL, timedOut: boolean, timeoutMs: number): KeyFetchError {
  const where = shownUrl(url.href);
  if (timedOut) return new KeyFetchError(`${where}: no answer within ${timeoutMs}ms`, { kind: 'timeout' });
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return new KeyFetchError(`${where}: could not connect (${cause.code})`, { kind: 'connect', code: cause.code });
  return new KeyFetchError(`${where}: ${err instanceof Error ? err.message : String(err)}`, { kind: 'other' });
}

/** The address as a log line may show it: a user name or password in it is left out. */
export function shownUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}

/**
 * The next URL of a redirect, if it stays where the configured URL put the trust: the same origin, or the
 * same host moving from http to https. A redirect elsewhere would let whoever controls one path of the
 * identity provider's server (or its redirects) hand the gateway keys from a server of their own; one to
 * plain http, let anyone on the network path do so.
 */
function redirectTarget(from: URL, location: string | null, redirects: number, configured: string): URL {
  const refuse = (why: string) => new KeyFetchError(`${configured}: ${why}`, { kind: 'redirect' });
  if (redirects >= MAX_REDIRECTS) throw refuse(`more than ${MAX_REDIRECTS} redirects`);
  const to = location !== null && URL.canParse(location, from.href) ? new URL(location, from) : undefined;
  if (to === undefined) throw refuse('a redirect without a usable Location');
  if (to.origin === from.origin) return to;
  const upgrade = from.protocol === 'http:' && to.protocol === 'https:' && to.hostname === from.hostname;
  if (upgrade) return to;
  if (from.protocol === 'https:' && to.protocol === 'http:') throw refuse(`a redirect from https to plain http (${to.origin})`);
  throw refuse(`a redirect to another origin (${to.origin})`);
}

/**
 * The body, read as it streams and cut at the limit. fetch decompresses gzip, deflate and brotli, so the
 * bytes counted are the decompressed ones: a 250 KB gzip of 250 MB is stopped after 1 MB of it, never
 * buffered whole. A declared Content-Length over the limit is refused before a byte is read.
 */
async function readBody(response: Response, url: string): Promise<string> {
  if (!response.ok) {
    await response.body?.cancel();
    throw new KeyFetchError(`${url} answered HTTP ${response.status}`, { kind: 'http_status', status: response.status });
  }
  const tooLarge = () => new KeyFetchError(`${url} sent a document over 1 MB`, { kind: 'too_large' });
  if (Number(response.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_DOCUMENT_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string, url: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KeyFetchError(`${url} did not send JSON`, { kind: 'not_json' });
  }
}
