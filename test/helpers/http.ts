// Clients for tests. `request` sends the path exactly as given (fetch would resolve dot segments before
// sending, hiding the very attacks we test); `raw` writes bytes on a socket for what no client library
// would send.
import http from 'node:http';
import net from 'node:net';

export interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: http.OutgoingHttpHeaders | readonly [string, string][];
  readonly body?: string | Buffer;
  readonly agent?: http.Agent | false;
}

export function request(base: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        // An array sends headers exactly as listed (duplicates too); Node then adds no Host of its own.
        headers: Array.isArray(options.headers) ? withHost(options.headers, url.host) : (options.headers as http.OutgoingHttpHeaders),
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function withHost(headers: readonly [string, string][], host: string): string[] {
  const hasHost = headers.some(([name]) => name.toLowerCase() === 'host');
  return [...(hasHost ? [] : [['Host', host] as const]), ...headers].flat();
}

/** Writes `text` as it is and returns what came back until the server closed or `waitMs` passed. */
export function raw(port: number, text: string | Buffer, waitMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('error', done);
    socket.write(text);
  });
}

export function statusOf(rawResponse: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(rawResponse);
  return m ? Number(m[1]) : 0;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * Writes `parts` one after another, `gapMs` apart (a slow client); resolves with what came back, how long
 * it took and how many parts were sent, once the server closes or `giveUpMs` has passed.
 */
export function slowly(port: number, parts: readonly string[], gapMs: number, giveUpMs = 8000): Promise<{ reply: string; ms: number; sent: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(deadline);
      socket.destroy();
      resolve({ reply, ms: Date.now() - started, sent });
    };
    const deadline = setTimeout(finish, giveUpMs);
    const next = () => {
      if (sent >= parts.length || socket.destroyed) return;
      socket.write(parts[sent++]!);
      timer = setTimeout(next, gapMs);
    };
    socket.on('connect', next);
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('close', finish);
    socket.on('error', () => {});
  });
}
