// npm run bench:websocket: WebSocket handshakes per second through the gateway (each one checked and
// tunneled, then closed), and round trips per second over open tunnels. The upstream is a node:http server
// that accepts every handshake and echoes. Env: D (seconds per measure, 5), C (concurrent clients, 20),
// GATEWAY (the cli.js to run; default dist/cli.js, so another build can be compared).
import { createHash } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const seconds = Number(process.env.D ?? 5);
const concurrency = Number(process.env.C ?? 20);
const cli = process.env.GATEWAY ?? path.join(root, 'dist', 'cli.js');
if (process.env.GATEWAY === undefined) execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

const accept = (key) => createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
const upstream = http.createServer((_req, res) => res.end('no'));
upstream.on('upgrade', (req, socket) => {
  socket.on('error', () => {});
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(req.headers['sec-websocket-key'])}\r\n\r\n`);
  socket.pipe(socket);
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));

const secret = 'websocket-bench-secret-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-ws-'));
const file = path.join(dir, 'gateway.yaml');
writeFileSync(file, `server: { host: 127.0.0.1, port: 18040, admin_port: 18140, access_log: true }
providers: [{ name: bench, issuer: bench, secret: "${secret}" }]
forward: { headers: { X-User-Id: sub } }
upstreams: { app: "http://127.0.0.1:${upstream.address().port}" }
routes: [{ name: ws, prefix: /, upstream: app }]
`);
const gateway = spawn('node', [cli, '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
const token = await new SignJWT({ sub: 'bench-user' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('bench').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
for (let i = 0; i < 100; i++) {
  const up = await new Promise((r) => net.connect(18040, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)));
  if (up) break;
  await new Promise((r) => setTimeout(r, 100));
}

const handshake = `GET /chat HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`;
/** Opens a tunnel; resolves with the socket once the 101 has arrived. */
const open = () => new Promise((resolve, reject) => {
  const socket = net.connect(18040, '127.0.0.1');
  let text = '';
  const onData = (chunk) => {
    text += chunk.toString('latin1');
    if (!text.includes('\r\n\r\n')) return;
    socket.off('data', onData);
    if (text.startsWith('HTTP/1.1 101 ')) resolve(socket);
    else reject(new Error(text.slice(0, 80)));
  };
  socket.on('data', onData).on('error', reject);
  socket.write(handshake);
});

async function measure(work) {
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (Date.now() < end) done += await work(worker);
  }));
  return done / seconds;
}

try {
  const handshakes = await measure(async () => {
    const socket = await open();
    socket.destroy();
    return 1;
  });
  const tunnels = await Promise.all(Array.from({ length: concurrency }, open));
  const roundTrips = await measure(async (worker) => {
    const socket = tunnels[worker];
    await new Promise((r) => {
      socket.once('data', r);
      socket.write('ping-0123456789');
    });
    return 1;
  });
  for (const s of tunnels) s.destroy();
  console.log(`${cli}: ${handshakes.toFixed(0)} handshakes/s, ${roundTrips.toFixed(0)} round trips/s over ${concurrency} tunnels`);
} finally {
  gateway.kill('SIGTERM');
  upstream.close();
  upstream.closeAllConnections?.();
  process.exit(0);
}
