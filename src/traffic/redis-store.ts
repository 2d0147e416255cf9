// Counts in Redis, shared by every gateway instance and worker that names the same server. Each request
// is one Lua script over its route's policies (the GCRA of gcra.ts on Redis's own clock), and Redis runs one script at a time, so
// concurrent requests from anywhere never race and instances whose clocks differ still agree. The client (ioredis) never queues a command while disconnected and never retries one: a
// request asks once, and a Redis that is down or hangs costs it at most rate_limit_timeout. The client
// reconnects by itself, forever, at most a second apart.
import { Redis } from 'ioredis';
import { cadenceOf, countsOf } from './gcra.ts';
import type { Count, LimitStore, PolicyCounter, PolicySpec, StoreEvents, StoreStatus } from './limit-store.ts';

/** Keys are portcullis:gcra:<policy>:<key>, each a hash of the TAT (t) and the interval it was made at (i). */
const KEY_PREFIX = 'portcullis:gcra:';
const RECONNECT_MAX_MS = 1000;

/**
 * One request against a route's policies, all or nothing. KEYS: one per policy; ARGV: each policy's
 * interval and tolerance (µs), in pairs. Returns, per policy, how far ahead of now the key's TAT would be
 * with this request counted (gcra.ts countsOf reads the answers from them); they are stored only when
 * every one is within its tolerance. A TAT made at another interval (a reload changed the policy) is first
 * carried over to this one, as rescaledDebt does. Numbers are written with %d: Lua would print 1.7e+15
 * and lose the digits.
 */
const GCRA_SCRIPT = `
redis.replicate_commands()
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local aheads = {}
local fits = true
for k = 1, #KEYS do
  local interval = tonumber(ARGV[2 * k - 1])
  local state = redis.call('HMGET', KEYS[k], 't', 'i')
  local debt = 0
  local tat = tonumber(state[1])
  if tat ~= nil and tat > now then
    debt = tat - now
    local was = tonumber(state[2])
    if was ~= nil and was ~= interval then debt = math.ceil(debt / was * interval) end
  end
  aheads[k] = debt + interval
  if aheads[k] > tonumber(ARGV[2 * k]) then fits = false end
end
if fits then
  for k = 1, #KEYS do
    redis.call('HSET', KEYS[k], 't', string.format('%d', now + aheads[k]), 'i', ARGV[2 * k - 1])
    redis.call('PEXPIRE', KEYS[k], math.ceil(aheads[k] / 1000))
  end
end
return aheads
`;

/** The client with the script defined on it (ioredis sends EVALSHA, and the script itself when Redis lacks it). */
type GcraClient = Redis & { portcullisGcra(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]> };

export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis';
  readonly remote = true;
  readonly description: string;
  private readonly client: GcraClient;
  /** Set by a failure, cleared by an answer: one warning per outage, however many requests fail in it. */
  private down = false;
  private started = false;

  constructor(
    readonly url: string,
    timeoutMs: number,
    private readonly events: StoreEvents,
  ) {
    this.description = describeRedisUrl(url);
    this.client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(timeoutMs, 1000),
      retryStrategy: (attempt) => Math.min(50 * attempt, RECONNECT_MAX_MS),
    }) as GcraClient;
    // No numberOfKeys: each call says how many keys it passes (a route names one policy or several).
    this.client.defineCommand('portcullisGcra', { lua: GCRA_SCRIPT });
    // Without a listener, a connection error would be an uncaught 'error' event: the process would die.
    this.client.on('error', (err: Error) => this.failed(err.message));
    this.client.on('close', () => this.failed('connection closed'));
    this.client.on('ready', () => this.answered());
  }

  /** A reload with another rate_limit_timeout applies it to the commands sent from then on. */
  setTimeout(timeoutMs: number): void {
    this.client.options.commandTimeout = timeoutMs;
  }

  counter(specs: readonly PolicySpec[]): PolicyCounter {
    const cadences = specs.map(cadenceOf);
    const prefixes = specs.map((spec) => `${KEY_PREFIX}${spec.name}:`);
    const args = cadences.flatMap((c) => [c.intervalUs, c.toleranceUs]);
    return {
      consume: (keys) => {
        // While disconnected, fail at once instead of waiting for the timeout.
        if (this.client.status !== 'ready') return this.notReady();
        return this.client.portcullisGcra(keys.length, ...keys.map((key, i) => prefixes[i] + key), ...args).then(
          (aheads) => this.counted(countsOf(cadences, aheads.map(Number))),
          (err: unknown) => this.storeFailed(err),
        );
      },
    };
  }

  async start(waitMs: number): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.client.connect().catch(() => {}); // reported through 'error'; the client keeps trying
    if (this.client.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      this.client.once('ready', resolve);
    });
    clearTimeout(timer);
  }

  status(): StoreStatus {
    return { reachable: !this.down && this.client.status === 'ready' };
  }

  timedOut(): void {
    this.failed('no answer within rate_limit_timeout');
    this.reconnect();
  }

  close(): void {
    this.started = false;
    this.client.disconnect();
  }

  /**
   * A Redis that hangs (stopped, swapping, a dead link the kernel has not noticed) keeps its connection
   * "ready", and every request would wait out the timeout. Starting over makes the client wait for an
   * answer before it is ready again, and requests meanwhile fail at once.
   */
  private reconnect(): void {
    if (this.client.status === 'ready') this.client.disconnect(true);
  }

  private notReady(): Promise<never> {
    const message = `not connected (${this.client.status})`;
    this.failed(message);
    return Promise.reject(new Error(message));
  }

  private counted(counts: Count[]): Count[] {
    this.answered();
    return counts;
  }

  private storeFailed(err: unknown): never {
    const message = err instanceof Error ? err.message : String(err);
    this.failed(message);
    if (/timed out/i.test(message)) this.reconnect();
    throw err;
  }

  private failed(error: string): void {
    if (this.down || !this.started) return;
    this.down = true;
    this.events.unreachable(this.description, error);
  }

  private answered(): void {
    if (!this.down) return;
    this.down = false;
    this.events.reachable(this.description);
  }
}

/** redis://user:secret@host:6379/0 -> redis://host:6379/0: addresses go to the log, passwords never do. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'redis';
  }
}
