// portcullis health [--ready]: asks the running gateway's admin port (from the config) for /healthz or
// /readyz. Exit 0 when it answers 200: for Docker HEALTHCHECK and exec probes.
import { loadConfigOrThrow } from '../config/load.ts';
import { resolveSettings } from '../config/settings.ts';
import { CONFIG_OPTION, configFile, parse } from './args.ts';

export async function healthCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parse(args, { ...CONFIG_OPTION, ready: { type: 'boolean' } });
  const settings = resolveSettings(loadConfigOrThrow(configFile(values.config)).config.server);
  const host = ['0.0.0.0', '::'].includes(settings.adminHost) ? '127.0.0.1' : settings.adminHost;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${settings.adminPort}/${values.ready ? 'readyz' : 'healthz'}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    out.write(`${url}: ${res.status} ${await res.text()}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    out.write(`${url}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
