/**
 * Retry policy, in one place. A pure delay function decides; the middleware only sleeps and
 * replays. Only replayable requests are retried here; whole blob transfers (whose bodies are
 * streams read once) are retried by the transfer engine, which can re-open its source.
 *
 * One retry level: a request is retried by the transport or by the level above, never by both.
 * The middleware marks what it owned (`retriedByTransport` on the answer, the same detail on the
 * error), and `restartOutcome` refuses a whole-transfer restart for such a failure: with
 * `--retries N` and a registry answering 500 to every upload request, each request is sent at
 * most N+1 times per blob, instead of (N+1)² when the two levels multiplied.
 */
import { AbortedError, NetworkError, RegpushError } from '../errors.js';
import { sleep } from '../abort.js';
import { type HostSilence, silenceMet } from './host-silence.js';
import { countOf, parseRateLimitHeader } from './stats.js';
import type { HttpRequest, HttpResponse, Middleware } from './types.js';

/** Statuses worth another try. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** Socket errors worth another try (refused/unknown hosts are not: they do not heal in seconds). */
const RETRY_ERRNOS: ReadonlySet<string> = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'EAI_AGAIN']);

/** Tunables of the retry policy. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff (ms); doubles per attempt. */
  baseDelayMs: number;
  /** Upper bound of the exponential backoff (ms). */
  maxDelayMs: number;
  /** Upper bound for a server's Retry-After (ms); longer waits fail instead of hanging a job. */
  maxRetryAfterMs: number;
  /** Returns [0,1); injectable for tests. */
  random: () => number;
  /** Current time (ms); for HTTP-date Retry-After. */
  now: () => number;
  /** Statuses worth another try under this policy (default RETRY_STATUSES). */
  statuses?: ReadonlySet<number>;
  /** Socket errors worth another try under this policy (default RETRY_ERRNOS). */
  errnos?: ReadonlySet<string>;
}

/** The default policy: 5 retries, 0.5 s doubling to 20 s, Retry-After honoured up to 60 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  random: Math.random,
  now: Date.now,
};

/** What happened on one attempt. */
export interface AttemptOutcome {
  status?: number;
  retryAfter?: string;
  errno?: string;
  /** A 401 to a body that could not be replayed, after which the auth layer knows better (HttpResponse.authRenewed): retried at once. */
  reauth?: boolean;
  /** The answer's `ratelimit-remaining` header as sent (Docker Hub's pulls left: `0;w=21600`). */
  rateLimitRemaining?: string;
  /** The wait (ms) a 429 without Retry-After named in its error body (GHCR: waitInBody); taken as a Retry-After. */
  waitMs?: number;
}

/** The shape of the three HTTP-date forms: IMF-fixdate, RFC 850 and asctime. */
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s.*\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/i;

/** Parses Retry-After (delta seconds or HTTP-date) into ms, or undefined when absent/invalid. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^[-+]?\d+(\.\d+)?$/.test(v)) return undefined; // negative or fractional: not a valid delta
  // An HTTP-date (RFC 9110, 5.6.7) starts with a day name and has a month name; Date.parse alone
  // would take loose text for a date (`in 5` is 2001-05-01, so "retry now", no backoff).
  if (!HTTP_DATE.test(v)) return undefined;
  // asctime() dates carry no zone but are GMT; Date.parse would read them as local time.
  const t = Date.parse(/\b(GMT|UTC)$/i.test(v) ? v : `${v} GMT`);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** Go's duration units (time.ParseDuration), in ms: `µs` is written with either code point. */
const GO_DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as Go prints one (`1.16676ms`, `985.86µs`, `1m30s`) in ms, or undefined when it is none. */
function parseGoDuration(text: string): number | undefined {
  const part = /(\d+(?:\.\d*)?|\.\d+)([a-zµμ]+)/gy;
  let ms = 0;
  let at = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    const unit = GO_DURATION_UNITS[m[2]!];
    if (unit === undefined) return undefined;
    ms += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  return at > 0 && at === text.length ? ms : undefined;
}

/**
 * The wait (ms, rounded up) a 429's OCI error body names where the answer has no Retry-After
 * header, or undefined. GHCR answers its request rate limit so: the code TOOMANYREQUESTS and the
 * message `retry-after: 1.16676ms, allowed: 44000/minute`, a Go duration (also `985.86µs`, or
 * `10.305464ms, allowed: 2000/minute` for pushes), with no header (falcosecurity/plugins#1069,
 * chainguard-images/images#173, dependabot/cli#380).
 */
export function waitInBody(text: string): number | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return undefined;
  for (const e of errors as { code?: unknown; message?: unknown }[]) {
    if (String(e?.code ?? '').toUpperCase() !== 'TOOMANYREQUESTS' || typeof e.message !== 'string') continue;
    const said = /^\s*retry-after:\s*([^\s,]+)\s*(?:,|$)/i.exec(e.message)?.[1];
    const ms = said === undefined ? undefined : parseGoDuration(said);
    if (ms !== undefined) return Math.ceil(ms);
  }
  return undefined;
}

/**
 * True for a 429 that says the quota itself is spent: `ratelimit-remaining` 0, no Retry-After, and
 * a window (`w=`) longer than the policy waits. A count of 0 without a window says nothing of
 * when it comes back (the IETF RateLimit fields' short limits send `ratelimit-reset` instead): such
 * a 429 is retried as any other. Docker Hub answers its pull limit so
 * (`ratelimit-remaining: 0;w=21600`, no Retry-After: https://docs.docker.com/docker-hub/usage/pulls/,
 * docker/getting-started#101): the count comes back over hours, not within any backoff, so a retry
 * is only one more refused request. Docker documents that 429 by its body alone: one that carries
 * no count stands for the count its host sent last (countOf in stats.ts, the caller's to give).
 * Its other limit, per address and short, answers 429 with
 * `Retry-After: 60` and no count (docker/hub-feedback#1907): that one, and any 429 with a
 * Retry-After within the cap, is retried as any other 429.
 */
export function quotaSpent(outcome: AttemptOutcome, policy: Pick<RetryPolicy, 'maxRetryAfterMs' | 'now'> = DEFAULT_RETRY_POLICY): boolean {
  if (outcome.status !== 429 || waitOf(outcome, policy.now()) !== undefined) return false;
  const left = parseRateLimitHeader(outcome.rateLimitRemaining);
  return left?.value === 0 && left.window !== undefined && left.window * 1000 > policy.maxRetryAfterMs;
}

/** The wait an answer asked for (ms): its Retry-After header, else the one its error body named (waitMs). */
function waitOf(outcome: AttemptOutcome, now: number): number | undefined {
  return parseRetryAfter(outcome.retryAfter, now) ?? outcome.waitMs;
}

/**
 * Delay before retry number `attempt` (1-based), or null when the outcome is not retryable or
 * retries are used up. Backoff is exponential with "equal jitter" (half fixed, half random);
 * a Retry-After header wins when present, up to the cap; a wait named in a 429's error body is
 * taken as the least delay (the larger of it and the backoff); beyond the cap we give up rather
 * than wait, as for a quota spent for longer than that (quotaSpent).
 */
export function retryDelay(attempt: number, outcome: AttemptOutcome, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number | null {
  if (attempt > policy.retries) return null;
  if (outcome.reauth) return 0; // nothing to wait for: the fresh token is fetched before the attempt
  const retryable =
    (outcome.status !== undefined && (policy.statuses ?? RETRY_STATUSES).has(outcome.status)) ||
    (outcome.errno !== undefined && (policy.errnos ?? RETRY_ERRNOS).has(outcome.errno));
  if (!retryable || quotaSpent(outcome, policy)) return null;
  const header = parseRetryAfter(outcome.retryAfter, policy.now());
  if (header !== undefined) return header > policy.maxRetryAfterMs ? null : header;
  if (outcome.waitMs !== undefined && outcome.waitMs > policy.maxRetryAfterMs) return null;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const backoff = Math.round(exp / 2 + policy.random() * (exp / 2));
  // A wait named in the error body (GHCR's `retry-after: 985.86µs`) is a floor, not the delay:
  // taken alone, its sub-millisecond waits spend every retry within a few ms of a throttle that
  // needs longer to lift.
  return outcome.waitMs === undefined ? backoff : Math.max(outcome.waitMs, backoff);
}

/**
 * The retry outcome an error stands for, or undefined when it is not worth retrying (aborts,
 * 4xx answers, digest mismatches, bugs). Used by the levels above single requests: whole blob
 * transfers and resumed reads.
 */
export function outcomeOfError(err: unknown): AttemptOutcome | undefined {
  if (err instanceof AbortedError) return undefined;
  if (err instanceof RegpushError) {
    if (err.details.authRenewed === true) return { reauth: true };
    const errno = String(err.details.errno ?? '');
    if (RETRY_ERRNOS.has(errno)) return { errno };
    const status = err.details.status;
    if (typeof status === 'number' && RETRY_STATUSES.has(status)) {
      const { retryAfter, rateLimitRemaining, waitInBody: waitMs } = err.details;
      return {
        status,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        ...(typeof rateLimitRemaining === 'string' ? { rateLimitRemaining } : {}),
        ...(typeof waitMs === 'number' ? { waitMs } : {}),
      };
    }
    return undefined;
  }
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  if (RETRY_ERRNOS.has(code)) return { errno: code };
  // Node's own stream errors for a connection lost mid-body.
  if (/aborted|socket hang up|premature/i.test(String((err as Error | undefined)?.message))) return { errno: 'ECONNRESET' };
  return undefined;
}

/**
 * The outcome for a restart above the request level (a whole blob transfer): as outcomeOfError,
 * but undefined when the failing request was one the transport had already retried, or one that
 * timed out at a host silent then or by now (`silence`, the transport's: host-silence.ts).
 */
export function restartOutcome(err: unknown, silence?: HostSilence): AttemptOutcome | undefined {
  if (err instanceof RegpushError && (err.details.transportRetried === true || err.details.hostSilent !== undefined)) return undefined;
  if (silenceMet(silence, err)) return undefined;
  return outcomeOfError(err);
}

/**
 * Retries shared by every level of one blob transfer (resumed reads and whole-transfer restarts),
 * so that `--retries N` bounds their sum instead of their product.
 */
export class RetryBudget {
  private used: number;
  /** `spent`: retries already taken for the same blob at an earlier level (a read shared by several targets). */
  constructor(
    readonly policy: RetryPolicy,
    spent = 0,
  ) {
    this.used = spent;
  }
  private reauthed = false;
  /**
   * Delay before the next retry, or null when the outcome is not retryable or the budget is spent.
   * A restart for new credentials (`reauth`) is made once: a token fetched for the restart is
   * refused for good.
   */
  next(outcome: AttemptOutcome): number | null {
    if (outcome.reauth && this.reauthed) return null;
    if (outcome.reauth) this.reauthed = true;
    const delay = retryDelay(this.used + 1, outcome, this.policy);
    if (delay !== null) this.used++;
    return delay;
  }
  /** Retries taken so far. */
  get spent(): number {
    return this.used;
  }
}

/**
 * True when the transport may send the request again: it has no body, or one not marked
 * `replayable: false` (a Buffer included: upload bytes to a session URL are marked so, since a
 * registry that took part of them has moved the session on; see HttpRequest.replayable).
 */
function isReplayable(req: HttpRequest): boolean {
  return req.body === undefined || req.replayable !== false;
}

/** Called before each retry (for logs and the JSON report's retry count). */
export type RetryListener = (info: { request: HttpRequest; attempt: number; delayMs: number; outcome: AttemptOutcome }) => void;

/**
 * The error of a request not retried because the host its attempt timed out at is silent
 * (host-silence.ts): the attempt's own, saying why no retry follows.
 */
function silentFailure(err: RegpushError, met: { host: string; requests: number }): NetworkError {
  return new NetworkError(`${err.message}; not retried: ${met.host} has answered nothing since ${met.requests} requests there timed out`, {
    cause: err,
    details: { ...err.details, hostSilent: met.requests, transportRetried: true },
  });
}

/**
 * Middleware retrying replayable requests per `policy`; returns the last response when retries run
 * out. With `silence`, an attempt that timed out at a host silent by then, or by the end of the
 * backoff before its retry, is not retried (host-silence.ts).
 */
export function retryMiddleware(policy: RetryPolicy, onRetry?: RetryListener, silence?: HostSilence): Middleware {
  return (next) => async (req) => {
    const replayable = isReplayable(req);
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse | undefined;
      let outcome: AttemptOutcome;
      try {
        res = await next(req);
        outcome = { status: res.status, retryAfter: res.headers['retry-after'], rateLimitRemaining: countOf(res).remaining, ...(res.waitInBody !== undefined ? { waitMs: res.waitInBody } : {}) };
      } catch (err) {
        const errno = err instanceof RegpushError ? String(err.details.errno ?? '') : '';
        // A proxy that refused the CONNECT with 502/503 (proxyRefusal, send-errors.ts) is retried as that answer from the registry would be.
        const status = err instanceof RegpushError && typeof err.details.proxyStatus === 'number' ? err.details.proxyStatus : undefined;
        if (!replayable || err instanceof AbortedError) throw err;
        const failure: AttemptOutcome = status === undefined ? { errno } : { errno, status };
        const delay = retryDelay(attempt, failure, policy);
        if (delay === null) {
          if (err instanceof RegpushError) err.details.transportRetried = true;
          throw err;
        }
        let met = silenceMet(silence, err);
        if (met) throw silentFailure(err as RegpushError, met);
        onRetry?.({ request: req, attempt, delayMs: delay, outcome: failure });
        await sleep(delay, req.signal);
        // Other requests there may have timed out meanwhile: the retry would wait as they did.
        met = silenceMet(silence, err);
        if (met) throw silentFailure(err as RegpushError, met);
        continue;
      }
      if (!replayable) return res;
      const delay = retryDelay(attempt, outcome, policy);
      if (delay === null) {
        res.retriedByTransport = true;
        return res;
      }
      res.body.destroy();
      onRetry?.({ request: req, attempt, delayMs: delay, outcome });
      await sleep(delay, req.signal);
    }
  };
}
