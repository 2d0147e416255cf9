// Request-target normalization: the one place that decides what path a request is for. Routes are matched
// against its output and upstreams receive its output, so the gateway and the upstream can not disagree
// about which resource was asked for. Anything an upstream might read differently is refused (400).
import { hasAsciiLookalike } from '../text/ascii-lookalike.ts';

export type PathRejection =
  | 'path_not_origin_form'
  | 'path_fragment'
  | 'path_bad_character'
  | 'path_bad_encoding'
  | 'path_encoded_slash'
  | 'path_backslash'
  | 'path_double_encoding'
  | 'path_above_root'
  | 'path_dot_parameter'
  | 'path_parameter'
  | 'path_encoded_delimiter'
  | 'path_confusable'
  | 'path_trailing_dot';

export type NormalizedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly code: PathRejection; readonly message: string };

const MESSAGES: Record<PathRejection, string> = {
  path_not_origin_form: 'the request target must be a path starting with "/"',
  path_fragment: 'the request target must not contain a fragment ("#")',
  path_bad_character: 'the path contains a character that must be percent-encoded',
  path_bad_encoding: 'the path contains an invalid percent-encoding or invalid UTF-8',
  path_encoded_slash: 'the path contains an encoded slash (%2F)',
  path_backslash: 'the path contains a backslash',
  path_double_encoding: 'the path contains a double percent-encoding (such as %252e)',
  path_above_root: 'the path climbs above the root with ".."',
  path_dot_parameter: 'the path contains a dot segment with parameters (such as "..;")',
  path_parameter: 'the path contains a ";" (matrix parameter), which some upstreams strip before routing',
  path_encoded_delimiter: 'the path contains an encoded "?" or "#" (%3F, %23), which some upstreams decode and read as the end of the path',
  path_confusable: 'the path contains a character that some upstreams read as a different ASCII character',
  path_trailing_dot: 'a path segment ends with a dot or a space',
};

function reject(code: PathRejection): NormalizedTarget {
  return { ok: false, code, message: MESSAGES[code] };
}

const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION_MARK = 0x3f;
const HASH = 0x23;

/** Unreserved characters (RFC 3986 §2.3): their percent-encodings are decoded during normalization. */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === DOT || c === 0x5f || c === 0x7e
  );
}

/** Characters allowed raw in a path: unreserved, sub-delims, ":", "@", "/" (RFC 3986 §3.3). */
function isRawPathChar(c: number): boolean {
  return isUnreserved(c) || c === SLASH || c === 0x3a || c === 0x40 || c === 0x21 || c === 0x24 ||
    (c >= 0x26 && c <= 0x2c) || c === 0x3b || c === 0x3d;
}

export function normalizeTarget(target: string): NormalizedTarget {
  if (target.charCodeAt(0) !== SLASH) return reject('path_not_origin_form');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (query.includes('#')) return reject('path_fragment');
  if (isAlreadyNormal(rawPath)) return { ok: true, path: rawPath, query };
  const normalized = normalizePath(rawPath);
  return typeof normalized === 'string' ? { ok: true, path: normalized, query } : reject(normalized.rejected);
}

/**
 * The common case, checked in one pass: only raw path characters, no "%", no "//", no segment that
 * starts or ends with a dot.
 */
function isAlreadyNormal(path: string): boolean {
  let previous = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (!isRawPathChar(c) || c === 0x3b) return false;
    if (c === SLASH && (previous === SLASH || previous === DOT)) return false;
    if (c === DOT && previous === SLASH) return false;
    previous = c;
  }
  return previous !== DOT;
}

interface Rejected {
  readonly rejected: PathRejection;
}

function normalizePath(path: string): string | Rejected {
  const parts = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const raw = parts[i]!;
    const last = i === parts.length - 1;
    if (raw === '') {
      if (last) trailingSlash = true;
      continue; // "//" collapses to "/"
    }
    const segment = normalizeSegment(raw);
    if ('rejected' in segment) return segment;
    trailingSlash = false;
    if (segment.decoded === '.') {
      if (last) trailingSlash = true;
      continue;
    }
    if (segment.decoded === '..') {
      if (out.length === 0) return { rejected: 'path_above_root' };
      out.pop();
      if (last) trailingSlash = true;
      continue;
    }
    const beforeParameters = segment.decoded.split(';', 1)[0];
    // Tomcat and others strip ";params" before resolving dots: "/public/..;/admin" is "/admin" to them.
    if (beforeParameters === '.' || beforeParameters === '..') return { rejected: 'path_dot_parameter' };
    // They strip them from every segment, too: "/admin;x" and "/;/admin" are "/admin" to Tomcat, Jetty and
    // Spring, but match no /admin route here (a public catch-all would forward them). Some decode "%3B"
    // before stripping, so the encoded form goes too (as Spring Security's StrictHttpFirewall does).
    if (segment.decoded.includes(';')) return { rejected: 'path_parameter' };
    // Windows-backed upstreams ignore trailing dots and spaces: "/admin." would reach "/admin".
    const end = segment.decoded.charCodeAt(segment.decoded.length - 1);
    if (end === DOT || end === 0x20) return { rejected: 'path_trailing_dot' };
    out.push(segment.text);
  }
  const joined = '/' + out.join('/');
  return trailingSlash && out.length > 0 ? joined + '/' : joined;
}

/**
 * One segment: percent-encoded unreserved characters are decoded, other escapes are kept with upper-case
 * hex. `decoded` is the fully decoded form, used only for the safety checks.
 */
function normalizeSegment(raw: string): { text: string; decoded: string } | Rejected {
  let text = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) return { rejected: 'path_backslash' };
    if (c === HASH) return { rejected: 'path_fragment' };
    if (c !== 0x25) {
      if (!isRawPathChar(c)) return { rejected: 'path_bad_character' };
      text += raw[i];
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { rejected: 'path_bad_encoding' };
    const byte = parseInt(hex, 16);
    // An upstream (or a proxy behind it) that decodes the path and parses it again reads "/admin%3F/x" as
    // "/admin" with the query "/x": the gateway matched a path that upstream never serves.
    if (byte === QUESTION_MARK || byte === HASH) return { rejected: 'path_encoded_delimiter' };
    text += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + hex.toUpperCase();
    i += 2;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(text); // throws on invalid or overlong UTF-8
  } catch {
    return { rejected: 'path_bad_encoding' };
  }
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c === SLASH) return { rejected: 'path_encoded_slash' };
    if (c === 0x5c) return { rejected: 'path_backslash' };
    if (c < 0x20 || c === 0x7f) return { rejected: 'path_bad_encoding' };
  }
  // An upstream that decodes twice would see "%2e" as ".", "%2f" as "/".
  if (/%[0-9A-Fa-f]{2}/.test(decoded)) return { rejected: 'path_double_encoding' };
  if (hasAsciiLookalike(decoded)) return { rejected: 'path_confusable' };
  return { text, decoded };
}
