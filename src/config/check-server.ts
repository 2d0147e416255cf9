// server: rules beyond the schema.
import { parseCidr } from '../proxy/trust.ts';
import type { ConfigProblem } from './problems.ts';
import { DEFAULTS, type GatewayConfig } from './schema.ts';
import { problemAt, type ConfigSource } from './source.ts';
import { parseDuration, parseSize } from './units.ts';

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
  // Node reads 0 as "no limit": a client sending its headers a byte a minute (slowloris), or keeping an idle
  // connection, would hold it for ever.
  for (const key of ['headers_timeout', 'request_timeout', 'keep_alive_timeout'] as const) {
    const value = server[key];
    if (value !== undefined && parseDuration(value) === 0) {
      problems.push(problemAt(source, ['server', key], 'zero_timeout', `${key} must be longer than 0: 0 turns the limit off, and a slow or idle client would hold its connection for ever`));
    }
  }
  // Node refuses to start a server whose headers timeout exceeds its request timeout.
  const headers = parseDuration(server.headers_timeout ?? DEFAULTS.headers_timeout);
  const request = parseDuration(server.request_timeout ?? DEFAULTS.request_timeout);
  if (headers > request && request > 0) {
    const key = server.headers_timeout !== undefined ? 'headers_timeout' : 'request_timeout';
    problems.push(problemAt(source, ['server', key], 'timeout_order', 'headers_timeout must not be longer than request_timeout'));
  }
  // The whole header block is limited by max_header_size: a token allowed by max_token_size but not by it
  // would get 431 for its size, never the 401 token_too_large that names the setting to change.
  const headerLimit = parseSize(server.max_header_size ?? DEFAULTS.max_header_size);
  const tokenLimit = parseSize(server.max_token_size ?? DEFAULTS.max_token_size);
  if (tokenLimit >= headerLimit) {
    const key = server.max_token_size !== undefined ? 'max_token_size' : 'max_header_size';
    problems.push(problemAt(source, ['server', key], 'token_over_header_limit', `max_token_size (${tokenLimit} bytes) must be below max_header_size (${headerLimit} bytes), which limits the token with every other header`, 'warning'));
  }
  if (server.port !== undefined && server.port !== 0 && server.port === server.admin_port) {
    problems.push(problemAt(source, ['server', 'admin_port'], 'port_clash', 'admin_port must differ from port'));
  }
  return problems;
}
