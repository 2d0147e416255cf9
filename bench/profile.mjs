// npm run bench:profile: where a forwarded request's CPU time goes. Starts the shared harness's nginx
// upstream, the gateway (bench/gateway-HS256.yaml, one process, access log on) under --cpu-prof, loads it
// with wrk, and prints the profile's self time by area (HTTP server and sockets, undici, auth, routing and
// headers, logging, metrics, GC) and the gateway's CPU per request. Env: D (seconds, 10), C (50).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const shared = process.env.PEERS_HARNESS ? path.dirname(process.env.PEERS_HARNESS) : path.join(root, '..', 'shared', 'bench');
const seconds = Number(process.env.D ?? 10);
const connections = Number(process.env.C ?? 50);
const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-profile-'));

const waitPort = async (port) => {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} never opened`);
};

execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
writeFileSync(path.join(dir, 'up.conf'), readFileSync(path.join(shared, 'peers', 'upstream-nginx.conf'), 'utf8').replaceAll('RUN', dir));
const upstream = spawn('nginx', ['-c', path.join(dir, 'up.conf'), '-p', dir], { stdio: 'ignore' });
const secret = 'profile-secret-0123456789abcdef0123456789';
writeFileSync(path.join(dir, 'hs.secret'), secret);
const token = execFileSync('node', [path.join(shared, 'peers', 'mint.mjs'), 'HS256', path.join(dir, 'hs.secret')], { cwd: shared }).toString().trim();
const gateway = spawn('node', ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', dir, path.join(root, 'dist', 'cli.js'), '--config', path.join(root, 'bench', 'gateway-HS256.yaml')], {
  env: { ...process.env, BENCH_SECRET: secret, BENCH_PORT: '18004', BENCH_ADMIN_PORT: '18104', BENCH_ACCESS_LOG: process.env.BENCH_ACCESS_LOG ?? 'true' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await waitPort(18000);
  await waitPort(18004);
  const cpu = () => readFileSync(`/proc/${gateway.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0);
  const before = cpu();
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-H', `Authorization: Bearer ${token}`, 'http://127.0.0.1:18004/api/orders/1']).toString();
  const ticks = cpu() - before;
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString());
  console.log(`${(requests / seconds).toFixed(0)} req/s; gateway CPU ${((ticks / hz) * 1e6 / requests).toFixed(1)} us per request`);
} finally {
  gateway.kill('SIGINT');
  await new Promise((r) => gateway.once('exit', r));
  upstream.kill('SIGTERM');
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const areas = new Map();
let busy = 0;
/** The area a function's own time counts to, by where it is defined. */
function areaOf({ url, functionName }) {
  if (functionName === '(idle)') return null;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === 'writev' || functionName === 'writeLatin1String' || functionName === 'writeUtf8String' || functionName === 'writeBuffer') return 'socket writes (syscalls)';
  if (url.includes('node_modules/undici')) return 'undici (upstream client)';
  if (/node_modules\/(pino|sonic-boom)|dist\/server\/(access-log|logger)/.test(url)) return 'logging';
  if (/node_modules\/prom-client|dist\/server\/(request-)?metrics/.test(url)) return 'metrics';
  if (/node_modules\/(jose|lru-cache)|dist\/auth\//.test(url)) return 'auth (tokens, cache)';
  if (/dist\/proxy\/(headers|response-headers|trust)/.test(url)) return 'headers';
  if (/dist\/(pipeline|routing|traffic)\//.test(url)) return 'pipeline (normalize, route, admit)';
  if (url.includes('/dist/')) return 'gateway (request context, forwarding, record)';
  if (/^node:(_http|net|internal\/(streams|stream_base|http|net|timers|process|buffer))|^node:(events|buffer|timers)/.test(url) || url === '') return 'Node HTTP server, streams, timers';
  return 'other';
}
profile.samples.forEach((id, i) => {
  const area = areaOf(nodes.get(id).callFrame);
  if (area === null) return;
  const dt = profile.timeDeltas[i] ?? 0;
  busy += dt;
  areas.set(area, (areas.get(area) ?? 0) + dt);
});
console.log('Share of the gateway\'s busy time (idle excluded):');
for (const [area, t] of [...areas].sort((a, b) => b[1] - a[1])) console.log(`  ${(100 * t / busy).toFixed(1).padStart(5)}%  ${area}`);
console.log(`(profile: ${path.join(dir, file)})`);
