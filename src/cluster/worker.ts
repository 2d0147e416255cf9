// A cluster worker: a gateway without its own admin port or file watch. The primary tells it when to
// reload, asks it whether it is ready and for its metrics, and tells it when to drain and stop.
import cluster from 'node:cluster';
import { startGateway, type RunningGateway, type StartOptions } from '../server/runtime.ts';
import { loadConfigTextOrThrow } from '../config/load.ts';
import { PrimaryLimitStore } from './limit-ipc.ts';
import { isMessage, isQuestion, SNAPSHOT_ENV, type Answer, type LimitAnswer, type MetricFamily, type Question, type WorkerMessage } from './messages.ts';

export async function runWorker(options: Pick<StartOptions, 'configFile' | 'port' | 'adminPort' | 'allowDefaultSecrets'>): Promise<number> {
  // The primary reloads on SIGHUP. A hangup sent to the whole process group (the terminal closed,
  // `kill -HUP -PGID`) reaches the workers too, and its default action would kill them all.
  process.on('SIGHUP', () => {});
  // Listening from the start, so that a shutdown sent while this worker boots is not lost.
  let gateway: RunningGateway | undefined;
  let stopRequested = false;
  let stop = () => void (stopRequested = true);
  // rate_limit_store: memory counts in the primary, for every worker at once.
  const limits = new PrimaryLimitStore((message, onError) => {
    if (process.connected) process.send!(message, undefined, undefined, onError);
    else onError(new Error('the primary is gone'));
  });
  process.on('message', (message: unknown) => {
    if (isMessage<LimitAnswer>(message, 'portcullis:limit-answer')) limits.answered(message);
    else if (isMessage(message, 'portcullis:shutdown')) stop();
    else if (gateway !== undefined && isQuestion(message)) void answer(gateway, message).then(send);
  });

  const snapshot = process.env[SNAPSHOT_ENV];
  const loaded = snapshot === undefined ? undefined : loadConfigTextOrThrow(options.configFile, snapshot);
  let started: RunningGateway;
  try {
    started = await startGateway({ ...options, ...(loaded ? { loaded } : {}), admin: false, watch: false, countReloads: false, memoryLimitStore: limits });
  } catch (err) {
    // The IPC channel alone would keep a worker that could not start (its port in use) alive for ever,
    // and the primary waiting for it. Disconnected as the cluster module's own (not process.disconnect(),
    // on which it exits 0 at once), the worker exits 1 once its error is out.
    if (process.connected) cluster.worker?.disconnect();
    throw err;
  }
  gateway = started;

  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = () => {
      if (stopping) return;
      stopping = true;
      void started.close().then(() => {
        // Without the IPC channel nothing keeps this process alive: it exits once the logs are out.
        if (process.connected) process.disconnect();
        resolve(0);
      });
    };
    // Ctrl-C reaches every process of the group; a vanished primary means nobody will ask us to stop.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
    if (stopRequested || !process.connected) stop();
    else send({ type: 'portcullis:ready' });
  });
}

async function answer(gateway: RunningGateway, question: Question): Promise<Answer> {
  const { id } = question;
  switch (question.type) {
    case 'portcullis:reload': {
      const ok = await gateway.reload(question.trigger, question.text).catch(() => false);
      return { type: 'portcullis:answer', id, ok };
    }
    case 'portcullis:readiness': {
      const readiness = gateway.readiness();
      return { type: 'portcullis:answer', id, ok: readiness.ready, readiness };
    }
    case 'portcullis:metrics': {
      const metrics = (await gateway.metrics.registry.getMetricsAsJSON().catch(() => undefined)) as unknown as MetricFamily[] | undefined;
      return { type: 'portcullis:answer', id, ok: metrics !== undefined, ...(metrics ? { metrics } : {}) };
    }
  }
}

function send(message: WorkerMessage): void {
  // The primary may be gone already; then there is nobody to tell.
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}
