// The cluster primary (server.workers > 1): forks the workers that share the gateway port, replaces a
// worker that dies, serves the admin port for all of them (readiness of every worker, metrics summed
// across workers), counts the workers' rate limits (rate_limit_store: memory), validates config changes
// once and tells every worker to reload, and drains them all on SIGTERM.
import cluster, { type Worker } from 'node:cluster';
import { Counter, Gauge, Registry } from 'prom-client';
import type http from 'node:http';
import type { LoadedConfig } from '../config/load.ts';
import { createAdminServer } from '../server/admin.ts';
import { applyClientTimeouts } from '../server/client-limits.ts';
import type { Logger } from '../server/logger.ts';
import { reloadCounter } from '../server/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import { watchFile } from '../config/watch.ts';
import { ConfigSync } from './config-sync.ts';
import { isLimitRequest, PrimaryLimits } from './limit-ipc.ts';
import { isMessage, SNAPSHOT_ENV, type Answer, type MetricFamily, type PrimaryMessage } from './messages.ts';
import { Questions } from './questions.ts';
import { WorkerMetrics } from './worker-metrics.ts';

export interface PrimaryOptions {
  readonly configFile: string;
  readonly loaded: LoadedConfig;
  readonly workers: number;
  readonly adminPort?: number;
  readonly logger: Logger;
  /** Accept a provider secret that is the file's ${VAR:-fallback} on reload (checked at start by the CLI). */
  readonly allowDefaultSecrets: boolean;
}

/** A worker that dies this soon after starting is crash-looping: wait before the next one. */
const UNSTABLE_MS = 5000;
const READINESS_WAIT_MS = 1000;
const METRICS_WAIT_MS = 2000;

export interface RunningPrimary {
  /** Resolves when no worker could start (the port in use): the cluster then stops, as one process would. */
  readonly startFailed: Promise<void>;
  reload(trigger: string): Promise<boolean>;
  stop(): Promise<void>;
  kill(): void;
}

export async function startPrimary(options: PrimaryOptions): Promise<RunningPrimary> {
  const { logger } = options;
  const registry = new Registry();
  const reloads = reloadCounter(registry);
  const restarts = new Counter({ name: 'portcullis_worker_restarts_total', help: 'Workers replaced after dying', registers: [registry] });
  new Gauge({ name: 'portcullis_workers', help: 'Workers running', registers: [registry], collect() { this.set(Object.keys(cluster.workers ?? {}).length); } });
  const questions = new Questions();
  const workerMetrics = new WorkerMetrics();
  const limits = new PrimaryLimits();
  /** Workers that have said they serve and listen for questions. */
  const ready = new Set<Worker>();
  const readyWorkers = () => [...ready].filter((w) => w.isConnected());
  const sync = new ConfigSync({
    configFile: options.configFile,
    loaded: options.loaded,
    logger,
    questions,
    readyWorkers,
    reloads,
    allowDefaultSecrets: options.allowDefaultSecrets,
  });
  let stopping = false;
  let crashes = 0;
  /** Some worker has served: from then on a worker that dies is replaced; before, its failure is the cluster's. */
  let served = false;
  let startFailed!: () => void;
  const failedToStart = new Promise<void>((resolve) => (startFailed = resolve));
  let replacement: NodeJS.Timeout | undefined;
  const startedAt = new Map<Worker, number>();

  const fork = () => {
    const text = sync.text;
    const worker = cluster.fork({ [SNAPSHOT_ENV]: text });
    startedAt.set(worker, Date.now());
    sync.forked(worker, text);
    worker.on('message', (message: unknown) => onWorkerMessage(worker, message));
    logger.info({ worker_pid: worker.process.pid }, 'worker started');
  };
  const onWorkerMessage = (worker: Worker, message: unknown): void => {
    if (isLimitRequest(message)) limits.count(worker, message);
    else if (isMessage<Answer>(message, 'portcullis:answer')) questions.answered(worker, message);
    else if (isMessage(message, 'portcullis:ready') && !ready.has(worker)) {
      served = true;
      ready.add(worker);
      sync.ready(worker);
    }
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    ready.delete(worker);
    sync.exited(worker);
    questions.exited(worker);
    workerMetrics.retire(worker);
    if (stopping) return;
    if (!served) {
      // A worker that can not start at all (its error is on stderr) will not start the next time either:
      // the cluster exits 1, as a single process does, rather than run for ever without serving.
      logger.error({ worker_pid: worker.process.pid, code, signal }, 'a worker could not start; stopping');
      startFailed();
      return;
    }
    crashes = lived < UNSTABLE_MS ? crashes + 1 : 0;
    const delay = crashes === 0 ? 0 : Math.min(100 * 2 ** crashes, 5000);
    logger.error({ worker_pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'worker died; starting a replacement');
    restarts.inc();
    replacement = setTimeout(() => !stopping && fork(), delay);
  });
  let announced = false;
  cluster.on('listening', (worker, address) => {
    logger.info({ worker_pid: worker.process.pid, port: address.port }, 'worker listening');
    if (!announced) {
      announced = true;
      logger.info({ port: address.port, workers: options.workers, config: options.configFile }, 'portcullis listening');
    }
  });

  const readiness = async (): Promise<Readiness> => {
    if (stopping) return { ready: false, reasons: ['shutting down'] };
    const asked = readyWorkers();
    if (asked.length < options.workers) return { ready: false, reasons: [`${asked.length} of ${options.workers} workers ready`] };
    const { answers } = await questions.ask(asked, { type: 'portcullis:readiness' }, READINESS_WAIT_MS);
    if (answers.size < asked.length) return { ready: false, reasons: [`${asked.length - answers.size} workers did not answer`] };
    const reasons = [...new Set([...answers.values()].flatMap((a) => a.readiness?.reasons ?? []))];
    const warnings = [...new Set([...answers.values()].flatMap((a) => a.readiness?.warnings ?? []))];
    return { ready: reasons.length === 0, reasons, ...(warnings.length > 0 ? { warnings } : {}) };
  };
  const metrics = async () => {
    // Only ready workers are asked: one still starting has nothing to count and could not answer.
    const { answers } = await questions.ask(readyWorkers(), { type: 'portcullis:metrics' }, METRICS_WAIT_MS);
    const fresh = new Map<Worker, readonly MetricFamily[]>();
    for (const [worker, answer] of answers) if (answer.metrics) fresh.set(worker, answer.metrics);
    return { contentType: registry.contentType, body: (await workerMetrics.render(fresh)) + (await registry.metrics()) };
  };

  const admin = createAdminServer({ readiness, metrics }, sync.settings);
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(options.adminPort ?? sync.settings.adminPort, sync.settings.adminHost, resolve);
  });
  logger.info({ admin_port: (admin.address() as { port: number }).port, workers: options.workers }, 'portcullis primary started');
  for (let i = 0; i < options.workers; i++) fork();

  const reload = (trigger: string) =>
    sync.reload(trigger).then((ok) => {
      applyClientTimeouts(admin, sync.settings);
      return ok;
    });
  const watcher = watchFile(options.configFile, () => void reload('file changed'));

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearTimeout(replacement);
    watcher.close();
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exited = Promise.all(live.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
    // Workers still starting are told too: they stop as soon as they have started.
    const shutdown: PrimaryMessage = { type: 'portcullis:shutdown' };
    for (const w of live) if (w.isConnected()) w.send(shutdown, () => {});
    const deadline = setTimeout(() => live.forEach((w) => w.process.kill('SIGKILL')), sync.settings.shutdownTimeoutMs + 2000);
    await exited;
    clearTimeout(deadline);
    await closeServer(admin);
    logger.info({}, 'portcullis stopped');
  };
  const kill = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
  };
  return { startFailed: failedToStart, reload, stop, kill };
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
