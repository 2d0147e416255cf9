// Checks of the request message itself, before its path is even read: the Host it is for, and how its body
// is framed. Each refuses what the gateway and an upstream could read as two different requests.
import { isIPv6 } from 'node:net';
import { countHeader } from '../auth/extract.ts';
import type { RequestFacts } from './decide.ts';
import { deny, type Denial } from './decision.ts';

/**
 * Exactly one Host, and one that every URL parser reads as the host the route was chosen by (RFC 9112 §3.2:
 * `uri-host [":" port]`, answered 400 otherwise). "evil@admin.example.com", "admin.example.com/x",
 * "admin.example.com\x" or "admin.example.com?" match no `host: admin.example.com` route here, while an
 * upstream that builds a URL from the Host reads each of them as admin.example.com. A missing or empty
 * Host is refused too, on HTTP/1.0 as well: with nothing to forward, the upstream request would be given
 * the target's own host, the one virtual host the client never asked for.
 */
export function checkHost(request: RequestFacts): Denial | undefined {
  const host = request.headers.host;
  if (host === undefined) {
    // explain, which has no connection (no httpVersion), may be asked about a path without a host.
    if (request.httpVersion === undefined) return undefined;
    return deny('host_missing', request.httpVersion === '1.1' ? 'an HTTP/1.1 request needs a Host header' : 'the request needs a Host header');
  }
  if (countHeader(request.rawHeaders, 'host') > 1) return deny('host_duplicated', 'the request has more than one Host header');
  if (host === '') return deny('host_missing', 'the Host header is empty');
  return isHostAndPort(host) ? undefined : deny('host_invalid', 'the Host header must be a host name, an IPv4 address or a bracketed IPv6 address, with an optional port');
}

/** A name of letters, digits, "-" and "_" in dot-separated labels (a trailing dot allowed), then a port. */
const NAME_AND_PORT = /^(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+\.?(?::[0-9]{0,5})?$/;
const IPV6_AND_PORT = /^\[([0-9A-Fa-f:.]+)\](?::[0-9]{0,5})?$/;
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const DOT = 0x2e;

/**
 * Percent-encodings, "@", "/", "\\", "?", "#", sub-delims and non-ASCII are refused: RFC 3986 allows some
 * of them in a reg-name, but URL parsers decode, strip or cut at them. A name whose last label is a number
 * ("127.1", "0x7f.0.0.1", "2130706433") is read as an IPv4 address by URL parsers (WHATWG): it must then
 * be one written the one plain way, four decimal octets. A plain host name allocates nothing here.
 */
function isHostAndPort(host: string): boolean {
  if (host.charCodeAt(0) === 0x5b) {
    const v6 = IPV6_AND_PORT.exec(host);
    return v6 !== null && isIPv6(v6[1]!);
  }
  if (!NAME_AND_PORT.test(host)) return false;
  const colon = host.indexOf(':');
  let end = colon === -1 ? host.length : colon;
  if (host.charCodeAt(end - 1) === DOT) end--;
  return !isNumericLabel(host, host.lastIndexOf('.', end - 1) + 1, end) || DOTTED_QUAD.test(host.slice(0, end));
}

/** Digits, or "0x" and hex digits: what URL parsers take for a number. */
function isNumericLabel(text: string, start: number, end: number): boolean {
  const hex = end - start >= 2 && text.charCodeAt(start) === 0x30 && (text.charCodeAt(start + 1) | 0x20) === 0x78;
  for (let i = hex ? start + 2 : start; i < end; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39;
    if (!digit && !(hex && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66)) return false;
  }
  return true;
}

/**
 * A body is framed one way or not at all (RFC 9112 §6.3). Node's parser refuses most ambiguous framings
 * itself, but accepts an empty Transfer-Encoding line before a Content-Length (and frames by the length),
 * and joins a "chunked" line and an empty one into "chunked, ". Forwarded, such a message leaves the
 * upstream to choose between the two framings, or to read an encoding list no other server reads the same
 * way: the request an upstream reads after it could be one no check has seen. The connection is closed
 * after the refusal, since where the next request starts is exactly what is in doubt.
 */
export function checkFraming(request: RequestFacts): Denial | undefined {
  const encoding = request.headers['transfer-encoding'];
  if (encoding === undefined) return undefined;
  // RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding, so its framing is faulty and the connection must
  // close. Node frames it as chunked and reads on, so a 1.0 keep-alive connection ran the request after the
  // chunked body, where an HTTP/1.0 reader in front of the gateway saw that body as data (nginx answers 400).
  if (request.httpVersion === '1.0') {
    return deny('framing_http10_encoding', 'an HTTP/1.0 request can not use Transfer-Encoding; send Content-Length');
  }
  if (request.headers['content-length'] !== undefined) {
    return deny('framing_conflict', 'the request has both Transfer-Encoding and Content-Length');
  }
  if (encoding.length === CHUNKED.length && encoding.toLowerCase() === CHUNKED) return undefined;
  if (hasEmptyElement(encoding)) return deny('framing_empty_encoding', 'the request\'s Transfer-Encoding has an empty element');
  // RFC 9112 §6.3: without chunked last, the body's length can not be known: 400, and close (Node's parser
  // refuses it too, but only after it has handed the request over).
  if (!ENDS_IN_CHUNKED.test(encoding)) return deny('bad_request', 'the request\'s Transfer-Encoding does not end in chunked');
  // Node takes off the chunked coding, and the forwarder frames what it sends itself: any coding under it
  // ("gzip, chunked") would reach the upstream as a body that says nothing of it, to be read as something
  // else. RFC 9112 §6.1: 501 for a coding the server does not handle (nginx 501, HAProxy 422).
  return deny('framing_unsupported_encoding', 'only Transfer-Encoding: chunked is accepted; send the body without other transfer codings');
}

const CHUNKED = 'chunked';
const ENDS_IN_CHUNKED = /(?:^|,)[ \t]*chunked[ \t]*$/i;

/** "", " ", "chunked, ", ", chunked", "gzip,,chunked": a list element that is empty or only whitespace. */
function hasEmptyElement(list: string): boolean {
  for (const element of list.split(',')) {
    if (element.trim() === '') return true;
  }
  return false;
}
