// Durations and sizes as written in gateway.yaml ("250ms", "30s", "8kb"). One parser for each, used by
// the schema (to validate) and by compile (to convert), so the two can never disagree.

export const DURATION_PATTERN = /^(\d+)(ms|s|m|h)$/;
export const SIZE_PATTERN = /^(\d+)(b|kb|mb)$/i;

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const SIZE_BYTES = { b: 1, kb: 1024, mb: 1024 * 1024 } as const;

/** "30s" -> 30000. Throws on anything the schema would have refused. */
export function parseDuration(text: string): number {
  const m = DURATION_PATTERN.exec(text);
  if (!m) throw new TypeError(`not a duration: ${text}`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

/** 8192 or "8kb" -> 8192. */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = SIZE_PATTERN.exec(value);
  if (!m) throw new TypeError(`not a size: ${value}`);
  return Number(m[1]) * SIZE_BYTES[m[2]!.toLowerCase() as keyof typeof SIZE_BYTES];
}

/** Seconds for the token command's --ttl, which takes the same duration syntax. */
export function durationSeconds(text: string): number {
  return Math.floor(parseDuration(text) / 1000);
}
