// The admin listener: /healthz (the process answers), /readyz (it should get traffic), /metrics
// (Prometheus). Kept off the gateway port so that routes can never expose or shadow it, and on 127.0.0.1
// unless server.admin_host says otherwise.
import http from 'node:http';
import type { Settings } from '../config/settings.ts';
import { clientLimits } from './client-limits.ts';
import type { Readiness } from './readiness.ts';

export interface AdminSources {
  readiness(): Readiness | Promise<Readiness>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

/**
 * The gateway's own limits apply here too (`settings`: header size, header and request timeouts): without
 * them Node's defaults let a client hold a connection open for minutes.
 */
export function createAdminServer(sources: AdminSources, settings: Settings): http.Server {
  return http.createServer(clientLimits(settings), (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed', message: 'use GET' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      void Promise.resolve(sources.readiness()).then(
        (r) => {
          const warnings = r.warnings !== undefined && r.warnings.length > 0 ? { warnings: r.warnings } : {};
          json(r.ready ? 200 : 503, r.ready ? { status: 'ready', ...warnings } : { status: 'not_ready', reasons: r.reasons, ...warnings });
        },
        () => json(503, { status: 'not_ready', reasons: ['readiness could not be determined'] }),
      );
      return;
    }
    if (path === '/metrics') {
      void sources.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        () => json(500, { error: 'metrics_failed', message: 'metrics could not be collected' }),
      );
      return;
    }
    json(404, { error: 'not_found', message: 'admin endpoints: /healthz, /readyz, /metrics' });
  });
}
