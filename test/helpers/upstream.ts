// A real upstream HTTP server on 127.0.0.1 that records what it received, so tests can assert what an
// upstream saw, and what it never saw.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, received: Received) => void;

export interface Upstream {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  readonly server: http.Server;
  /** Replace what the upstream answers (default: 200 with a small JSON body naming the upstream). */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** `port`: listen on this one (an upstream that comes back where it was); 0 picks a free one. */
export async function startUpstream(name = 'upstream', port = 0): Promise<Upstream> {
  const received: Received[] = [];
  let handler: Handler = (_req, res, r) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
    res.end(JSON.stringify({ upstream: name, url: r.url }));
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(r);
      handler(req, res, r);
    });
  });
  // Every connection, upgraded ones included (closeAllConnections no longer sees those), to end them at close.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    received,
    server,
    handle(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A port on 127.0.0.1 that nobody listens on: connections to it are refused. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never says a word (no HTTP answer, no TLS handshake). */
export async function startSilentServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
