/**
 * What the transport saw, for the JSON report: requests sent, requests retried, and the rate-limit
 * headers registries returned. Docker Hub answers manifest requests with
 * `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`
 * (https://docs.docker.com/docker-hub/usage/pulls/); other registries may send the same IETF
 * draft headers (draft-ietf-httpapi-ratelimit-headers). Only numbers are kept, never other headers.
 */
import type { Middleware } from './types.js';
import type { HttpStats, RateLimitSeen } from './stats-report.js';

/** Parses `100;w=21600` (or a bare `100`) into the number and the window. */
export function parseRateLimitHeader(value: string | undefined): { value: number; window?: number } | undefined {
  if (value === undefined) return undefined;
  // Repeated headers arrive joined with ", "; the first one counts.
  const first = value.split(',')[0]!.trim();
  const m = /^(\d{1,12})\s*(?:;(.*))?$/.exec(first);
  if (!m) return undefined;
  const w = /(?:^|;)\s*w\s*=\s*(\d{1,12})\s*(?:;|$)/.exec(m[2] ?? '');
  return { value: Number(m[1]), ...(w ? { window: Number(w[1]) } : {}) };
}

/** Accumulates what a transport saw. */
export class TransportStats {
  private requests = 0;
  private retries = 0;
  private readonly limits = new Map<string, RateLimitSeen>();
  /** Hosts that have answered a manifest request without rate-limit headers (manifestAnswered). */
  private readonly quiet = new Set<string>();
  private readonly watchers = new Set<(seen: RateLimitSeen) => void>();
  /** Hosts whose pull limit a manifest GET found used up, with the limit's words (spendPulls). */
  private readonly spent = new Map<string, string>();

  /** Counts one request and records its rate-limit headers, if any. */
  response(url: string, headers: Record<string, string>): void {
    this.requests++;
    const limit = parseRateLimitHeader(headers['ratelimit-limit']);
    const remaining = parseRateLimitHeader(headers['ratelimit-remaining']);
    if (!limit && !remaining) return;
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      return;
    }
    const seen = this.limits.get(host) ?? { registry: host };
    if (limit) seen.limit = limit.value;
    if (remaining) {
      seen.remaining = remaining.value;
      seen.lowestRemaining = Math.min(seen.lowestRemaining ?? Infinity, remaining.value);
    }
    const w = limit?.window ?? remaining?.window;
    if (w !== undefined) seen.windowSeconds = w;
    this.limits.set(host, seen);
    for (const w of this.watchers) w({ ...seen });
  }

  /** Calls `watcher` with each rate-limit record as headers update it; returns the way to stop. */
  watch(watcher: (seen: RateLimitSeen) => void): () => void {
    this.watchers.add(watcher);
    return () => void this.watchers.delete(watcher);
  }

  /** True once `host` (host[:port], as in its URLs) has sent rate-limit headers. */
  sentLimits(host: string): boolean {
    return this.limits.has(host);
  }

  /**
   * Notes that `host` answered a manifest request with a 2xx carrying `headers` (the registry
   * client calls it: only it knows a manifest request from another): where they carry no
   * rate-limit header, the registry has shown that it announces no pull limit (shownLimits). The
   * headers themselves were recorded by response().
   */
  manifestAnswered(host: string, headers: Record<string, string>): void {
    if (parseRateLimitHeader(headers['ratelimit-limit']) || parseRateLimitHeader(headers['ratelimit-remaining'])) return;
    this.quiet.add(host);
  }

  /** True once `host` has shown whether it announces a pull limit: it has sent rate-limit headers, or answered a manifest request (2xx) without them. */
  shownLimits(host: string): boolean {
    return this.limits.has(host) || this.quiet.has(host);
  }

  /**
   * Notes that `host` refused a manifest GET because its pull limit is used up (`limit` says it:
   * "ratelimit-remaining 0 of 100 per 6 h"): the registry clients of the operation send it no
   * manifest GET after that (pullsSpent), whichever image or tag they read for.
   */
  spendPulls(host: string, limit: string): void {
    if (!this.spent.has(host)) this.spent.set(host, limit);
  }

  /** What spendPulls() noted for `host`, or undefined while its pull limit is not known to be used up. */
  pullsSpent(host: string): string | undefined {
    return this.spent.get(host);
  }

  /** Counts a request that failed at the socket (no response). */
  failed(): void {
    this.requests++;
  }

  /** Counts one retry. */
  retried(): void {
    this.retries++;
  }

  /** A copy of the counters. */
  snapshot(): HttpStats {
    return { requests: this.requests, retries: this.retries, rateLimits: [...this.limits.values()].map((l) => ({ ...l })) };
  }
}

/** Middleware feeding `stats` with every response (place it just above the socket). */
export function statsMiddleware(stats: TransportStats): Middleware {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      stats.response(res.url || req.url, res.headers);
      return res;
    } catch (err) {
      stats.failed();
      throw err;
    }
  };
}
