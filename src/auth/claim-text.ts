// Which claim text may become an identity-header value, or an element of a list the gateway checks roles and
// scopes against. Defined by what is allowed, not by a list of what is known to hurt: whatever an upstream
// could read as another value must not travel, and a role the upstream would read differently must not be
// granted by the gateway either, so that both sides see the same identity.
import { hasAsciiLookalike } from '../text/ascii-lookalike.ts';

/**
 * Non-ASCII characters allowed: letters, marks, letter-like and other numbers, punctuation and symbols.
 * Left out, with what reads them as something else: controls, including the C1 ones (U+0085 NEL is trimmed
 * by Go's TrimSpace, .NET's Trim and Python's strip, so "admin\u0085" arrives as "admin"); every space and
 * separator (NBSP, U+2000-U+200A, U+2028, U+3000); format characters (U+FEFF is trimmed by JavaScript's
 * trim, U+200B and the bidirectional overrides hide or reorder text); decimal digits other than 0-9
 * (Python's int() reads "٤٢" as 42); private-use, unassigned and lone surrogate code points.
 */
const ALLOWED_NON_ASCII = /^[\p{L}\p{M}\p{Nl}\p{No}\p{P}\p{S}]$/u;

const SPACE = 0x20;
const COMMA = 0x2c;

/**
 * A header value: visible ASCII, spaces between other characters (never at either end, which every header
 * parser trims), and the non-ASCII characters above unless one reads as ASCII (hasAsciiLookalike).
 */
export function isUnambiguousValue(text: string): boolean {
  return isUnambiguous(text, false);
}

/**
 * An element of a list (roles, scopes, an array claim) that travels comma-joined: the same characters
 * without the space and the comma, on which upstreams split lists ("ops admin" is two roles to them, one
 * of them a role the gateway never granted).
 */
export function isUnambiguousElement(text: string): boolean {
  return isUnambiguous(text, true);
}

function isUnambiguous(text: string, element: boolean): boolean {
  let nonAscii = false;
  const last = text.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = text.charCodeAt(i);
    if (c > SPACE && c < 0x7f) {
      if (c === COMMA && element) return false;
      continue;
    }
    if (c === SPACE) {
      if (element || i === 0 || i === last) return false;
      continue;
    }
    if (c < 0x80) return false;
    nonAscii = true;
  }
  return !nonAscii || nonAsciiIsUnambiguous(text);
}

function nonAsciiIsUnambiguous(text: string): boolean {
  for (const ch of text) {
    if (ch.charCodeAt(0) >= 0x80 && !ALLOWED_NON_ASCII.test(ch)) return false;
  }
  return !hasAsciiLookalike(text);
}
