// A cluster worker: a gateway without its own admin port or file watch. The primary tells it when to
// reload, asks it whether it is ready, collects its metrics (prom-client's cluster protocol) and tells it
// when to drain and stop.
import { AggregatorRegistry } from 'prom-client';
import { startGateway, type StartOptions } from '../server/runtime.ts';
import { loadConfigTextOrThrow } from '../config/load.ts';
import { isMessage, SNAPSHOT_ENV, type Answer, type Question } from './messages.ts';

export async function runWorker(options: Pick<StartOptions, 'configFile' | 'port' | 'adminPort'>): Promise<number> {
  const snapshot = process.env[SNAPSHOT_ENV];
  const loaded = snapshot === undefined ? undefined : loadConfigTextOrThrow(options.configFile, snapshot);
  const gateway = await startGateway({ ...options, ...(loaded ? { loaded } : {}), admin: false, watch: false, countReloads: false });
  new AggregatorRegistry(); // installs prom-client's answer to the primary's metrics requests
  AggregatorRegistry.setRegistries([gateway.metrics.registry]);
  const answer = (message: Answer) => process.send?.(message);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void gateway.close().then(() => {
        // Without the IPC channel nothing keeps this process alive: it exits once the logs are out.
        if (process.connected) process.disconnect();
        resolve(0);
      });
    };
    process.on('message', (message: unknown) => {
      if (isMessage<Extract<Question, { type: 'portcullis:reload' }>>(message, 'portcullis:reload')) {
        void gateway.reload(message.trigger, message.text).then((ok) => answer({ type: 'portcullis:answer', id: message.id, ok }));
      } else if (isMessage(message, 'portcullis:readiness')) {
        const readiness = gateway.readiness();
        answer({ type: 'portcullis:answer', id: (message as Question).id, ok: readiness.ready, readiness });
      } else if (isMessage(message, 'portcullis:shutdown')) {
        stop();
      }
    });
    // Ctrl-C reaches every process of the group; a vanished primary means nobody will ask us to stop.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
  });
}
