// What the cluster primary and its workers say to each other over IPC. Questions carry an id; each
// worker's answer repeats it. A worker says "ready" once, when it serves and listens for questions: the
// primary asks nothing of a worker before that, since a message that arrives earlier is lost.
import type { Readiness } from '../server/readiness.ts';
import type { Count, PolicySpec } from '../traffic/limit-store.ts';

export type QuestionBody =
  | { readonly type: 'portcullis:reload'; readonly trigger: string; readonly text: string }
  | { readonly type: 'portcullis:readiness' }
  | { readonly type: 'portcullis:metrics' };

export type Question = QuestionBody & { readonly id: number };

/**
 * A worker asks the primary to count one request (rate_limit_store: memory): the primary holds every
 * worker's counts, so N workers enforce the configured limit, not N times it. The policy travels with the
 * question, so a reload that changes it applies as soon as the worker has it.
 */
export interface LimitRequest {
  readonly type: 'portcullis:limit';
  readonly id: number;
  /** A route's policies, counted together (all or nothing), with one key each. */
  readonly policies: readonly PolicySpec[];
  readonly keys: readonly string[];
}

export interface LimitAnswer {
  readonly type: 'portcullis:limit-answer';
  readonly id: number;
  /** One per policy; absent when the primary could not count. */
  readonly counts?: readonly Count[];
}

export type PrimaryMessage = Question | LimitAnswer | { readonly type: 'portcullis:shutdown' };

/** One metric family as prom-client's getMetricsAsJSON() reports it (its typings say `type` is an enum; it is the name). */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator?: string;
  readonly values: readonly MetricSample[];
}

export interface MetricSample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  /** Set for a histogram's _bucket, _sum and _count samples. */
  readonly metricName?: string;
}

export interface Answer {
  readonly type: 'portcullis:answer';
  readonly id: number;
  readonly ok: boolean;
  readonly readiness?: Readiness;
  readonly metrics?: readonly MetricFamily[];
}

export type WorkerMessage = Answer | LimitRequest | { readonly type: 'portcullis:ready' };

/** Workers start from the config text the primary last validated, not from whatever is on disk now. */
export const SNAPSHOT_ENV = 'PORTCULLIS_CONFIG_SNAPSHOT';

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}

const QUESTION_TYPES: ReadonlySet<unknown> = new Set<QuestionBody['type']>(['portcullis:reload', 'portcullis:readiness', 'portcullis:metrics']);

export function isQuestion(value: unknown): value is Question {
  if (typeof value !== 'object' || value === null) return false;
  const { type, id } = value as { type?: unknown; id?: unknown };
  return QUESTION_TYPES.has(type) && typeof id === 'number';
}
