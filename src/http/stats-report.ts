/**
 * The transport's counters as a report gives them (PushResult.http, CopyResult.http,
 * SyncResult.http): types only, part of the library's published declarations; stats.ts counts them.
 */

/** The last rate-limit headers one registry host sent. */
export interface RateLimitSeen {
  /** Host (and port) that sent the headers, e.g. "registry-1.docker.io". */
  registry: string;
  /** Requests allowed per window (`ratelimit-limit`). */
  limit?: number;
  /** Requests left in the window (`ratelimit-remaining`); the last value seen. */
  remaining?: number;
  /** Window length in seconds (the `w=` parameter), when given. */
  windowSeconds?: number;
  /** Smallest `remaining` seen during the operation. */
  lowestRemaining?: number;
}

/** Counters of one transport, as they appear in the report. */
export interface HttpStats {
  /** HTTP requests sent (every hop: redirects and retries count). */
  requests: number;
  /** Requests sent again after a transient failure (5xx, 429, resets). */
  retries: number;
  /** Rate-limit headers seen, one entry per registry host that sent any. */
  rateLimits: RateLimitSeen[];
}
