// The bundled echo backend: answers every request with the method, URL, headers and body size it
// received, so the identity headers the gateway adds can be seen with curl.
import http from 'node:http';

export interface EchoReply {
  readonly service: string;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly body_bytes: number;
}

export function createEchoServer(service = 'echo'): http.Server {
  return http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const reply: EchoReply = { service, method: req.method, url: req.url, headers: req.headers, body_bytes: bytes };
      const body = JSON.stringify(reply, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}
