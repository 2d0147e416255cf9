// Reading claims: the normalized role and scope lists, and the text of a claim as an upstream header
// carries it. Claim paths and the one reader of a claim by its path are in claim-path.ts.
import type { JWTPayload } from 'jose';
import { readClaim, type ClaimPath } from './claim-path.ts';
import { isUnambiguousValue } from './claim-text.ts';

/** An array of strings, or a string of values separated by spaces or commas. */
export function listOf(value: unknown, separators: RegExp): string[] {
  if (typeof value === 'string') return value.split(separators).filter((v) => v !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

/**
 * The union of the roles at each path: an array of strings, a string of roles separated by spaces or
 * commas, or an object whose keys are the roles (ZITADEL: {"admin": {...}}). A key whose value is false or
 * null is not a role: {"admin": false} says the opposite. A boolean claim is never a role.
 */
export function rolesOf(payload: JWTPayload, paths: readonly ClaimPath[]): string[] {
  if (paths.length === 1) return rolesIn(readClaim(payload, paths[0]!));
  const roles = new Set<string>();
  for (const path of paths) for (const role of rolesIn(readClaim(payload, path))) roles.add(role);
  return [...roles];
}

function rolesIn(value: unknown): string[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.keys(value).filter((k) => k !== '' && (value as Record<string, unknown>)[k] !== false && (value as Record<string, unknown>)[k] !== null);
  }
  return listOf(value, /[\s,]+/);
}

/**
 * OAuth scopes: the union of the claims at `paths`, each space-delimited text (RFC 8693 §4.2 "scope") or a
 * list ("scp" as some IdPs send it, Auth0's "permissions").
 */
export function scopesOf(payload: JWTPayload, paths: readonly ClaimPath[]): string[] {
  const scopes = new Set<string>();
  for (const path of paths) for (const scope of listOf(readClaim(payload, path), / +/)) scopes.add(scope);
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
