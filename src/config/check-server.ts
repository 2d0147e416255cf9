// server: rules beyond the schema.
import { parseCidr } from '../proxy/trust.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig } from './schema.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { parseDuration } from './units.ts';

export function checkServer(config: GatewayConfig, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const server = config.server ?? {};
  if (Array.isArray(server.trust_proxy)) {
    server.trust_proxy.forEach((cidr, i) => {
      if (parseCidr(cidr) === undefined) {
        problems.push(problemAt(source, ['server', 'trust_proxy', i], 'bad_cidr', `"${cidr}" is not an address or CIDR like 10.0.0.0/8`));
      }
    });
  }
  // Node refuses to start a server whose headers timeout exceeds its request timeout.
  const headers = parseDuration(server.headers_timeout ?? DEFAULTS.headers_timeout);
  const request = parseDuration(server.request_timeout ?? DEFAULTS.request_timeout);
  if (headers > request) {
    const key = server.headers_timeout !== undefined ? 'headers_timeout' : 'request_timeout';
    problems.push(problemAt(source, ['server', key], 'timeout_order', 'headers_timeout must not be longer than request_timeout'));
  }
  if (server.port !== undefined && server.port !== 0 && server.port === server.admin_port) {
    problems.push(problemAt(source, ['server', 'admin_port'], 'port_clash', 'admin_port must differ from port'));
  }
  return problems;
}
