// Reading claims: dotted paths ("realm_access.roles"), the normalized role and scope lists, and the text
// of a claim as an upstream header carries it.
import type { JWTPayload } from 'jose';
import { isUnambiguousValue } from './claim-text.ts';

export type ClaimPath = readonly string[];

export function parseClaimPath(text: string): ClaimPath {
  return text.split('.');
}

export function readClaim(payload: JWTPayload, path: ClaimPath): unknown {
  let current: unknown = payload;
  for (const part of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** An array of strings, or a string of values separated by spaces or commas. */
export function listOf(value: unknown, separators: RegExp): string[] {
  if (typeof value === 'string') return value.split(separators).filter((v) => v !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

export function rolesOf(payload: JWTPayload, path: ClaimPath): string[] {
  return listOf(readClaim(payload, path), /[\s,]+/);
}

/** OAuth scopes: the space-delimited "scope" claim (RFC 8693 §4.2) and the "scp" claim some IdPs use. */
export function scopesOf(payload: JWTPayload): string[] {
  const scopes = new Set([...listOf(payload.scope, / +/), ...listOf(payload.scp, / +/)]);
  return [...scopes];
}

/**
 * The header value for a claim: strings as they are, numbers and booleans as text, arrays comma-joined,
 * objects as JSON. Undefined when the claim is missing or its text is not one every upstream reads as
 * exactly that text (claim-text.ts: a "sub" of " admin" or "admin\u0085" would arrive as "admin").
 * Non-ASCII text is sent as its UTF-8 bytes.
 */
export function headerValueOf(value: unknown): string | undefined {
  let text: string;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value)) text = value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  else text = JSON.stringify(value);
  if (!isUnambiguousValue(text)) return undefined;
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}
