// portcullis health [--ready] [--admin-port N] [--admin-host H]: asks the running gateway's admin port for
// /healthz or /readyz. Exit 0 when it answers 200: for Docker HEALTHCHECK and exec probes. Only the admin
// address is read from the config, leniently: the probe asks the gateway, it does not judge the file (an
// edit the gateway refused must not get a healthy container restarted into it).
import { readAdminAddress } from '../config/admin-address.ts';
import { CONFIG_OPTION, configFile, parse, portNumber } from './args.ts';

const OPTIONS = {
  ...CONFIG_OPTION,
  ready: { type: 'boolean' },
  'admin-port': { type: 'string' },
  'admin-host': { type: 'string' },
} as const;

export async function healthCommand(args: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parse(args, OPTIONS);
  const fromFile = readAdminAddress(configFile(values.config));
  const adminHost = values['admin-host'] ?? fromFile.host;
  const adminPort = values['admin-port'] !== undefined ? portNumber('--admin-port', values['admin-port']) : fromFile.port;
  if (adminPort === 0) {
    out.write('server.admin_port is 0 (a free port is chosen at startup): give the port with --admin-port N\n');
    return 1;
  }
  const host = ['0.0.0.0', '::'].includes(adminHost) ? '127.0.0.1' : adminHost;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${adminPort}/${values.ready ? 'readyz' : 'healthz'}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    out.write(`${url}: ${res.status} ${await res.text()}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    out.write(`${url}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
