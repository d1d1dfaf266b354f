/**
 * Bearer tokens per registry + credential + scope set, with one in-flight request per key so
 * concurrent callers share a token exchange (as oras-go's auth cache does).
 */
import type { FetchedToken } from './token.js';

/** Longest safety margin before a token's expiry at which it is no longer handed out. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;

interface Entry {
  token: string;
  expiresAt: number;
  storedAt: number;
}

/** A token from the cache, and whether it was obtained by this call (fresh) or earlier. */
export interface CachedToken {
  token: string;
  /** True when this call started or joined the token request rather than reusing a stored token. */
  fresh: boolean;
}

/** Token cache with expiry and shared in-flight fetches; keys are opaque strings (see BearerAuth in bearer-auth.ts). */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<FetchedToken>>();

  /** The stored token for `key` if still valid at `now` (expiry minus margin), else undefined. */
  get(key: string, now: number): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    // Margin: 10 s, but never more than half the lifetime, so short-lived tokens stay usable.
    const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, Math.max(0, (e.expiresAt - e.storedAt) / 2));
    if (now >= e.expiresAt - margin) {
      this.entries.delete(key);
      return undefined;
    }
    return e.token;
  }

  /** Stores a token. */
  set(key: string, t: FetchedToken, now: number): void {
    this.entries.set(key, { token: t.token, expiresAt: t.expiresAt, storedAt: now });
  }

  /** Drops `key`'s token, but only if it is still `token` (another caller may have refreshed it already). */
  invalidate(key: string, token?: string): void {
    const e = this.entries.get(key);
    if (e && (token === undefined || e.token === token)) this.entries.delete(key);
  }

  /** A valid stored token, or the result of the one shared `fetch` for this key. */
  async getOrFetch(key: string, now: () => number, fetch: () => Promise<FetchedToken>): Promise<CachedToken> {
    const stored = this.get(key, now());
    if (stored !== undefined) return { token: stored, fresh: false };
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch().then(
        (t) => {
          this.set(key, t, now());
          this.inflight.delete(key);
          return t;
        },
        (err: unknown) => {
          this.inflight.delete(key);
          throw err;
        },
      );
      this.inflight.set(key, pending);
    }
    const t = await pending;
    return { token: t.token, fresh: true };
  }

  /** Number of stored tokens (for tests and --debug). */
  get size(): number {
    return this.entries.size;
  }
}
