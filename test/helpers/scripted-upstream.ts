// An upstream that is only a TCP port with a script: each request's head is handed to `answer`, which
// writes whatever bytes it likes on the socket (a misbehaving server: extra responses, 1xx it was not
// asked for, repeated headers). For what a well-behaved node:http server can not be made to send.
import net, { type AddressInfo } from 'node:net';

export interface ScriptedUpstream {
  readonly url: string;
  /** Request heads received, in order, on every connection. */
  readonly heads: string[];
  /** Connections accepted. */
  readonly connections: () => number;
  close(): Promise<void>;
}

/** `answer(head, socket, n)`: n counts requests over all connections, from 0. Bodies are not expected. */
export async function startScriptedUpstream(answer: (head: string, socket: net.Socket, n: number) => void): Promise<ScriptedUpstream> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        heads.push(head);
        answer(head, socket, heads.length - 1);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heads,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => r());
      }),
  };
}
