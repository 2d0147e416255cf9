// The cluster primary (server.workers > 1): forks the workers that share the gateway port, replaces a
// worker that dies, serves the admin port for all of them (readiness of every worker, metrics summed
// across workers), validates config changes once and tells every worker to reload, and drains them all
// on SIGTERM.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type http from 'node:http';
import { loadConfigFile, type LoadedConfig } from '../config/load.ts';
import { formatProblem } from '../config/problems.ts';
import { resolveSettings } from '../config/settings.ts';
import { createAdminServer } from '../server/admin.ts';
import type { Logger } from '../server/logger.ts';
import { reloadCounter } from '../server/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import { watchConfig } from '../server/watch.ts';
import { isMessage, SNAPSHOT_ENV, type Answer, type PrimaryMessage, type Question, type QuestionBody } from './messages.ts';

export interface PrimaryOptions {
  readonly configFile: string;
  readonly loaded: LoadedConfig;
  readonly workers: number;
  readonly adminPort?: number;
  readonly logger: Logger;
}

/** A worker that dies this soon after starting is crash-looping: wait before the next one. */
const UNSTABLE_MS = 5000;
const READINESS_WAIT_MS = 1000;
/** A reload compiles the new config and may wait for a new provider's first keys. */
const RELOAD_WAIT_MS = 15_000;

export interface RunningPrimary {
  reload(trigger: string): Promise<boolean>;
  stop(): Promise<void>;
  kill(): void;
}

export async function startPrimary(options: PrimaryOptions): Promise<RunningPrimary> {
  const { logger } = options;
  let settings = resolveSettings(options.loaded.config.server);
  let lastGoodText = options.loaded.text;
  const registry = new Registry();
  const reloads = reloadCounter(registry);
  const restarts = new Counter({ name: 'portcullis_worker_restarts_total', help: 'Workers replaced after dying', registers: [registry] });
  new Gauge({ name: 'portcullis_workers', help: 'Workers running', registers: [registry], collect() { this.set(Object.keys(cluster.workers ?? {}).length); } });
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let crashes = 0;
  const startedAt = new Map<Worker, number>();

  const fork = () => {
    const worker = cluster.fork({ [SNAPSHOT_ENV]: lastGoodText });
    startedAt.set(worker, Date.now());
    worker.on('message', (message: unknown) => onWorkerMessage(worker, message));
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) return;
    crashes = lived < UNSTABLE_MS ? crashes + 1 : 0;
    const delay = crashes === 0 ? 0 : Math.min(100 * 2 ** crashes, 5000);
    logger.error({ worker_pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'worker died; starting a replacement');
    restarts.inc();
    setTimeout(() => !stopping && fork(), delay);
  });
  let announced = false;
  cluster.on('listening', (worker, address) => {
    logger.info({ worker_pid: worker.process.pid, port: address.port }, 'worker listening');
    if (!announced) {
      announced = true;
      logger.info({ port: address.port, workers: options.workers, config: options.configFile }, 'portcullis listening');
    }
  });

  const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const broadcast = (message: PrimaryMessage) => workers().forEach((w) => w.send(message));

  // Questions to every worker, answered by id; a worker that does not answer in time counts as "no".
  let nextId = 0;
  const waiting = new Map<number, (answer: Answer) => void>();
  function onWorkerMessage(_worker: Worker, message: unknown): void {
    if (isMessage<Answer>(message, 'portcullis:answer')) waiting.get(message.id)?.(message);
  }
  const ask = async (question: QuestionBody, waitMs: number) => {
    const id = nextId++;
    const live = workers();
    const answers: Answer[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      waiting.set(id, (answer) => {
        answers.push(answer);
        if (answers.length === live.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      const message: Question = { ...question, id };
      for (const w of live) w.send(message);
    });
    waiting.delete(id);
    return { asked: live.length, answers };
  };

  const readiness = async (): Promise<Readiness> => {
    if (stopping) return { ready: false, reasons: ['shutting down'] };
    const { asked, answers } = await ask({ type: 'portcullis:readiness' }, READINESS_WAIT_MS);
    if (asked < options.workers) return { ready: false, reasons: [`${asked} of ${options.workers} workers running`] };
    if (answers.length < asked) return { ready: false, reasons: [`${asked - answers.length} workers did not answer`] };
    const reasons = [...new Set(answers.flatMap((a) => a.readiness?.reasons ?? []))];
    return { ready: reasons.length === 0, reasons };
  };

  const admin = createAdminServer({
    readiness,
    metrics: async () => ({
      contentType: registry.contentType,
      body: (await aggregator.clusterMetrics()) + (await registry.metrics()),
    }),
  });
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(options.adminPort ?? settings.adminPort, settings.adminHost, resolve);
  });
  logger.info({ admin_port: (admin.address() as { port: number }).port, workers: options.workers }, 'portcullis primary started');
  for (let i = 0; i < options.workers; i++) fork();

  let reloading = Promise.resolve(true);
  const reload = (trigger: string): Promise<boolean> => {
    reloading = reloading.then(async () => {
      // Validated once here, so that an invalid edit is refused without disturbing any worker.
      const result = loadConfigFile(options.configFile);
      if (!result.ok) {
        reloads.labels('failure').inc();
        logger.error({ trigger, problems: result.problems.map(formatProblem) }, 'config reload refused; the last good config keeps serving');
        return false;
      }
      settings = resolveSettings(result.loaded.config.server);
      lastGoodText = result.loaded.text;
      const { asked, answers } = await ask({ type: 'portcullis:reload', trigger, text: lastGoodText }, RELOAD_WAIT_MS);
      const ok = answers.length === asked && answers.every((a) => a.ok);
      reloads.labels(ok ? 'success' : 'failure').inc();
      logger.info({ trigger, workers: asked, ok }, ok ? 'config reloaded in every worker' : 'config reload failed in some workers');
      return ok;
    });
    return reloading;
  };
  const watcher = watchConfig(options.configFile, () => void reload('file changed'));

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    watcher.close();
    const live = workers();
    const exited = Promise.all(live.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
    broadcast({ type: 'portcullis:shutdown' });
    const deadline = setTimeout(() => live.forEach((w) => w.process.kill('SIGKILL')), settings.shutdownTimeoutMs + 2000);
    await exited;
    clearTimeout(deadline);
    await closeServer(admin);
    logger.info({}, 'portcullis stopped');
  };
  const kill = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
  };
  return { reload, stop, kill };
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
