// portcullis demo (npm start): the gateway plus the bundled echo backend on the loopback targets of the
// upstream named "echo" that nothing listens on yet, so the checked-in gateway.yaml works on a fresh
// machine with nothing else running. Only "echo": a user's own local service that is not up yet must
// get a 502, not a stand-in that answers for it.
import cluster from 'node:cluster';
import net from 'node:net';
import type http from 'node:http';
import { createEchoServer } from '../echo/echo-server.ts';
import { loadConfigOrThrow } from '../config/load.ts';
import { configFile, parse } from './args.ts';
import { RUN_OPTIONS, runCommand } from './run.ts';

const DEMO_UPSTREAM = 'echo';

export async function demoCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, RUN_OPTIONS);
  // The demo config's fallback secret is public: fine on a developer's machine, never where NODE_ENV says
  // production (the Docker image), unless the variable is set or the opt-in is given there by name.
  const hooks = { allowDefaultSecrets: process.env.NODE_ENV !== 'production' };
  // Cluster workers run this command too; the echo backends belong to the primary.
  if (cluster.isWorker) return runCommand(args, hooks);
  const loaded = loadConfigOrThrow(configFile(values.config));
  const echoes: http.Server[] = [];
  for (const [name, upstream] of Object.entries(loaded.config.upstreams)) {
    if (name !== DEMO_UPSTREAM) continue;
    const targets = typeof upstream === 'string' ? [upstream] : upstream.targets;
    for (const target of targets) {
      const url = new URL(target);
      const port = Number(url.port || 80);
      if (!['127.0.0.1', 'localhost'].includes(url.hostname) || (await isListening(port))) continue;
      const server = createEchoServer(name);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      echoes.push(server);
      process.stderr.write(`echo backend for upstream "${name}" on ${url.origin}\n`);
    }
  }
  const closeEchoes = () => echoes.forEach((s) => s.close());
  try {
    return await runCommand(args, { ...hooks, onStop: closeEchoes });
  } catch (err) {
    closeEchoes(); // or they would keep the process alive after the error
    throw err;
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
