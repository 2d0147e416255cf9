// What the cluster primary and its workers say to each other over IPC. Questions carry an id; each
// worker's answer repeats it.
import type { Readiness } from '../server/readiness.ts';

export type QuestionBody =
  | { readonly type: 'portcullis:reload'; readonly trigger: string; readonly text: string }
  | { readonly type: 'portcullis:readiness' };

export type Question = QuestionBody & { readonly id: number };

export type PrimaryMessage = Question | { readonly type: 'portcullis:shutdown' };

export type Answer =
  | { readonly type: 'portcullis:answer'; readonly id: number; readonly ok: boolean; readonly readiness?: Readiness };

/** Workers start from the config text the primary last validated, not from whatever is on disk now. */
export const SNAPSHOT_ENV = 'PORTCULLIS_CONFIG_SNAPSHOT';

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
