/**
 * What one request has sent so far on its way through the auth middleware (middleware.ts): the
 * Authorization of its last try, how many tokens were fetched for it, and whether its credential
 * was looked up again. Each scheme's module reads and writes it, so it sits below them all.
 */
import type { Challenge } from './challenge.js';

/** Per-request bookkeeping of what was sent, so a second 401 can be told apart from a stale token. */
export interface Attempt {
  /** The credential was looked up again after a refusal in this request: never twice. */
  renewed?: boolean;
  sent?: SentBearer | { kind: 'basic'; who: string } | { kind: 'registry-token'; who: string };
  /**
   * Basic credentials this request sent met a 401 without a challenge, and it went back to the
   * Bearer challenge the registry had named before (challenge-answer.ts): never twice.
   */
  bareAfterBasic?: boolean;
  tokenFetches: number;
}

/** A bearer token sent: its cache key and scopes, whether this request fetched it, and the presumed challenge it answered (if it did). */
export interface SentBearer {
  kind: 'bearer';
  key: string;
  scopes: string[];
  token: string;
  fresh: boolean;
  presumed?: Challenge;
}
