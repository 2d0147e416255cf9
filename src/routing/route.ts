// A route as the runtime sees it: compiled once from gateway.yaml.
import type { TokenSource } from '../auth/extract.ts';
import type { Requirement } from '../auth/requirement.ts';
import type { Upstream } from '../proxy/upstream.ts';
import type { CorsPolicy } from '../traffic/cors.ts';
import type { RouteRateLimit } from '../traffic/rate-limit.ts';
import type { HostPattern } from './host.ts';
import type { PathPattern } from './pattern.ts';

export type AuthMode = 'public' | 'optional' | 'required';

export interface Route {
  readonly name: string;
  /** Position in the file: first match wins. */
  readonly index: number;
  readonly pattern: PathPattern;
  /** Upper-case methods, HEAD included wherever GET is; null matches every method. */
  readonly methods: ReadonlySet<string> | null;
  readonly host: HostPattern | null;
  readonly auth: AuthMode;
  /** Where this route looks for a token, in order: its token_from, else its providers' together. */
  readonly tokenSources: readonly TokenSource[];
  /**
   * Whether a verified token's provider must list the source the token came from: the route has no
   * token_from of its own, and its providers do not all read the same sources.
   */
  readonly checkProviderSource: boolean;
  readonly requirement: Requirement;
  readonly upstream: Upstream;
  readonly stripPrefix: boolean;
  readonly timeoutMs: number;
  /** Largest request body in bytes, or null for no limit. */
  readonly maxBody: number | null;
  /** The route's CORS (its own block, else the global one), or null where the gateway does none. */
  readonly cors: CorsPolicy | null;
  /** The policies the route names (rate_limit), or null. */
  readonly rateLimit: RouteRateLimit | null;
}
