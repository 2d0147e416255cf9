// Counts in Redis, shared by every gateway instance and worker that names the same server. Each count is
// one atomic Lua script (rate-limiter-flexible's INCRBY + expiry), so concurrent requests from anywhere
// never race. The client (ioredis) never queues a command while disconnected and never retries one: a
// request asks once, and a Redis that is down or hangs costs it at most rate_limit_timeout. The client
// reconnects by itself, forever, at most a second apart.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { counterOver, type LimiterPair, type LimitStore, type PolicyCounter, type PolicySpec, type StoreEvents, type StoreStatus } from './limit-store.ts';

const KEY_PREFIX = 'portcullis:rl:';
const RECONNECT_MAX_MS = 1000;

export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis';
  readonly remote = true;
  readonly description: string;
  private readonly client: Redis;
  private readonly pairs = new Map<string, LimiterPair<RateLimiterRedis>>();
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
    });
    // Without a listener, a connection error would be an uncaught 'error' event: the process would die.
    this.client.on('error', (err: Error) => this.failed(err.message));
    this.client.on('close', () => this.failed('connection closed'));
    this.client.on('ready', () => this.answered());
  }

  /** A reload with another rate_limit_timeout applies it to the commands sent from then on. */
  setTimeout(timeoutMs: number): void {
    this.client.options.commandTimeout = timeoutMs;
  }

  counter(spec: PolicySpec): PolicyCounter {
    let pair = this.pairs.get(spec.name);
    if (pair === undefined) {
      const limiter = (keyPrefix: string) =>
        // rejectIfRedisNotReady: while disconnected, fail at once instead of waiting for the timeout.
        new RateLimiterRedis({ storeClient: this.client, keyPrefix, points: 1, duration: 1, rejectIfRedisNotReady: true });
      pair = { main: limiter(`${KEY_PREFIX}${spec.name}`), burst: limiter(`${KEY_PREFIX}${spec.name}:burst`) };
      this.pairs.set(spec.name, pair);
    }
    const counter = counterOver(pair, spec);
    return {
      consume: (key) =>
        counter.consume(key).then(
          (count) => {
            this.answered();
            return count;
          },
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            this.failed(message);
            if (/timed out/i.test(message)) this.reconnect();
            throw err;
          },
        ),
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
