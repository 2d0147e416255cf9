// The form of a compact JWS beyond what jose checks: things a lenient parser somewhere else would read
// differently from us. Checked once per token (on a cache miss), before any signature work.

/** Why the token is refused, or undefined when its form is sound. */
export function checkTokenForm(token: string): string | undefined {
  if (!isCanonicalBase64url(token)) return 'the token is not canonical base64url';
  if (hasDuplicateNames(token)) return 'the token repeats a header parameter or claim name';
  return undefined;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Every part decodes to whole bytes, and the unused low bits of a part's last character are zero (RFC 4648
 * §3.5). Lenient decoders ignore those bits, so without this check one token has many spellings that all
 * verify: a "different" token slips past a deny list or a cache keyed by the token text, and an upstream
 * with a strict decoder would read the token the gateway accepted as garbage.
 */
function isCanonicalBase64url(token: string): boolean {
  for (const part of token.split('.')) {
    const tail = part.length % 4;
    if (tail === 1) return false;
    if (tail === 0) continue;
    const last = BASE64URL.indexOf(part[part.length - 1]!);
    if ((last & (tail === 2 ? 0x0f : 0x03)) !== 0) return false;
  }
  return true;
}

/**
 * RFC 7515 §5.2 and RFC 7519 §7.2 let a parser either refuse repeated member names or keep the last one.
 * jose keeps the last, other JWT libraries keep the first: {"sub":"alice","sub":"admin"} would name one
 * caller here and another to an upstream that reads the forwarded token. Refuse them, in the header and
 * in the claims, at any depth.
 */
function hasDuplicateNames(token: string): boolean {
  const dot = token.indexOf('.');
  const end = token.indexOf('.', dot + 1);
  return repeatsName(token.slice(0, dot)) || repeatsName(token.slice(dot + 1, end));
}

function repeatsName(part: string): boolean {
  const text = Buffer.from(part, 'base64url').toString('utf8');
  try {
    JSON.parse(text); // only well-formed JSON is scanned below; jose reports the rest as malformed
  } catch {
    return false;
  }
  // One pass over valid JSON: a stack of the member names of each open object (null for an array).
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const names = open[open.length - 1];
      if (expectName && names) {
        const name = JSON.parse(text.slice(i, j + 1)) as string; // "s\u0075b" is "sub"
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = j;
    } else if (c === '{') {
      open.push(new Set());
      expectName = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectName = open[open.length - 1] != null;
    }
  }
  return false;
}
