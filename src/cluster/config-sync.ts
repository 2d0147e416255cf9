// The config in force across a cluster. The primary validates an edit once, asks every ready worker to
// load it, and only once they all have does it become the config new workers start from (one that some
// worker failed is taken back from the others). A worker that was still starting when an edit landed
// could not be asked; it catches up as soon as it is ready.
// Reloads and catch-ups run one at a time, in order, so a catch-up always sees the latest outcome.
import type { Worker } from 'node:cluster';
import type { Counter } from 'prom-client';
import { defaultSecretProblems } from '../config/default-secrets.ts';
import { loadConfigFile, type LoadedConfig } from '../config/load.ts';
import { formatProblem } from '../config/problems.ts';
import { resolveSettings, type Settings } from '../config/settings.ts';
import type { Logger } from '../server/logger.ts';
import type { Questions, Replies } from './questions.ts';

export interface ConfigSyncOptions {
  readonly configFile: string;
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
  readonly questions: Questions;
  /** Workers that said they are ready: the only ones that can hear a question. */
  readonly readyWorkers: () => readonly Worker[];
  /** portcullis_config_reloads_total, by result. */
  readonly reloads: Counter<'result'>;
  /** Accept a provider secret that is the file's ${VAR:-fallback} (config/default-secrets.ts). */
  readonly allowDefaultSecrets: boolean;
}

/** A reload compiles the new config and may wait for a new provider's first keys. */
const RELOAD_WAIT_MS = 15_000;
const CATCH_UP = 'started before the last reload';
const ROLLBACK = 'another worker failed the reload';

export class ConfigSync {
  private goodText: string;
  private goodSettings: Settings;
  /** The config text each worker runs, from the moment it is forked. */
  private readonly running = new Map<Worker, string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ConfigSyncOptions) {
    this.goodText = options.loaded.text;
    this.goodSettings = resolveSettings(options.loaded.config.server);
  }

  /** The config text every ready worker accepted: what a new worker starts from. */
  get text(): string {
    return this.goodText;
  }

  get settings(): Settings {
    return this.goodSettings;
  }

  forked(worker: Worker, text: string): void {
    this.running.set(worker, text);
  }

  exited(worker: Worker): void {
    this.running.delete(worker);
  }

  /** A worker can hear questions now: if an edit was accepted since the text it started from, send it. */
  ready(worker: Worker): void {
    void this.serialized(() => this.catchUp(worker)).catch((err: unknown) => {
      this.options.logger.error({ worker_pid: worker.process.pid, error: messageOf(err) }, 'bringing a worker up to date failed');
    });
  }

  reload(trigger: string): Promise<boolean> {
    // Nothing a reload throws may reach the caller: an unhandled rejection would end the primary, and
    // with it every worker.
    return this.serialized(() =>
      this.reloadOnce(trigger).catch((err: unknown) => {
        this.options.reloads.labels('failure').inc();
        this.options.logger.error({ trigger, error: messageOf(err) }, 'config reload failed unexpectedly; the last good config keeps serving');
        return false;
      }),
    );
  }

  private serialized<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadOnce(trigger: string): Promise<boolean> {
    const { logger, reloads } = this.options;
    // Validated once here, so that an invalid edit is refused without disturbing any worker.
    const result = loadConfigFile(this.options.configFile);
    const problems = result.ok ? (this.options.allowDefaultSecrets ? [] : defaultSecretProblems(result.loaded)) : result.problems;
    if (!result.ok || problems.length > 0) {
      reloads.labels('failure').inc();
      logger.error({ trigger, problems: problems.map(formatProblem) }, 'config reload refused; the last good config keeps serving');
      return false;
    }
    const settings = resolveSettings(result.loaded.config.server);
    const workers = this.options.readyWorkers();
    const replies = await this.send(workers, trigger, result.loaded.text);
    // A worker that died meanwhile does not count: its replacement catches up once ready.
    const ok = replies.silent.length === 0 && [...replies.answers.values()].every((a) => a.ok);
    if (ok) {
      this.goodText = result.loaded.text;
      this.goodSettings = settings;
    }
    reloads.labels(ok ? 'success' : 'failure').inc();
    logger.info({ trigger, workers: workers.length, ok }, ok ? 'config reloaded in every worker' : 'config reload failed in some workers');
    if (!ok) await this.takeBack(workers, replies);
    return ok;
  }

  /**
   * A reload applies everywhere or nowhere, as in a single process: the workers that took a failed one
   * (and those too slow to say, whose reload may still land) go back to the last good config.
   */
  private async takeBack(asked: readonly Worker[], replies: Replies): Promise<void> {
    const silent = new Set(replies.silent);
    const ahead = asked.filter((w) => w.isConnected() && (silent.has(w) || this.running.get(w) !== this.goodText));
    if (ahead.length === 0) return;
    const back = await this.send(ahead, ROLLBACK, this.goodText);
    const ok = back.silent.length === 0 && [...back.answers.values()].every((a) => a.ok);
    const log = { workers: ahead.map((w) => w.process.pid) };
    if (ok) this.options.logger.warn(log, 'workers that took the failed reload went back to the last good config');
    else this.options.logger.error(log, 'some workers could not go back to the last good config');
  }

  private async catchUp(worker: Worker): Promise<void> {
    const text = this.goodText;
    const started = this.running.get(worker);
    if (started === undefined || started === text || !worker.isConnected()) return;
    const replies = await this.send([worker], CATCH_UP, text);
    const answer = replies.answers.get(worker);
    const pid = worker.process.pid;
    if (answer?.ok) this.options.logger.info({ worker_pid: pid }, 'worker brought up to date with the last reload');
    else if (answer || replies.silent.length > 0) {
      this.options.logger.error({ worker_pid: pid }, 'a worker could not load the config the others run; it keeps the one it started with');
    }
  }

  private async send(workers: readonly Worker[], trigger: string, text: string): Promise<Replies> {
    const replies = await this.options.questions.ask(workers, { type: 'portcullis:reload', trigger, text }, RELOAD_WAIT_MS);
    for (const [worker, answer] of replies.answers) if (answer.ok && this.running.has(worker)) this.running.set(worker, text);
    return replies;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
