// Non-ASCII text that some reader takes for ASCII. Paths (routing/normalize.ts) and identity-header values
// (auth/claim-text.ts) are both compared by the gateway as written and read by upstreams after one of these
// mappings, so both refuse such characters, by this one definition.

const NON_ASCII = /[^\x00-\x7f]/;
const ASCII = /[\x00-\x7f]/;
const ASCII_THEN_MARKS = /^[\x00-\x7f]\p{M}*$/u;
/** Slash look-alikes that Windows "best fit" code-page conversion turns into "/" or "\\". */
const BEST_FIT_SLASHES = new Set(['\u2044', '\u2215', '\u2216', '\u29f5', '\u29f8', '\u29f9']);

/**
 * A non-ASCII character that an upstream may read as ASCII: by compatibility normalization (NFKC turns
 * "ａｄｍｉｎ" into "admin", "／" into "/", "‥" into ".."), by simple case mapping in a case-insensitive
 * comparison (Java and .NET fold the dotless "ı" and "İ" to "i", "ſ" to "s", the Kelvin sign to "k"), or by
 * Windows best-fit conversion. The gateway compares what was sent, so "/adm%C4%B1n" would miss an /admin
 * route here and reach /admin there. Full case mappings into several letters ("ß" -> "SS") are not simple
 * mappings and are allowed.
 */
export function hasAsciiLookalike(text: string): boolean {
  if (!NON_ASCII.test(text)) return false;
  for (const ch of text) {
    if (!NON_ASCII.test(ch)) continue;
    if (BEST_FIT_SLASHES.has(ch) || ASCII.test(ch.normalize('NFKC'))) return true;
    if (ASCII_THEN_MARKS.test(ch.toLowerCase()) || ASCII_THEN_MARKS.test(ch.toUpperCase())) return true;
  }
  return false;
}
