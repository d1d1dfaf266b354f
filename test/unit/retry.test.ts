import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelay, parseRetryAfter, outcomeOfError, waitInBody, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/http/retry.js';
import { TooManyRequestsError } from '../../src/errors.js';

const fixed: RetryPolicy = { ...DEFAULT_RETRY_POLICY, random: () => 0.5, now: () => Date.parse('2026-01-01T00:00:00Z') };

test('retryDelay: retryable statuses back off exponentially with jitter, capped', () => {
  // exp = base * 2^(n-1); delay = exp/2 + 0.5 * exp/2
  assert.equal(retryDelay(1, { status: 503 }, fixed), 375);
  assert.equal(retryDelay(2, { status: 502 }, fixed), 750);
  assert.equal(retryDelay(3, { status: 500 }, fixed), 1500);
  const capped = retryDelay(5, { status: 504 }, { ...fixed, retries: 10, maxDelayMs: 2000 });
  assert.equal(capped, 1500);
});

test('retryDelay: non-retryable outcomes and exhausted retries give null', () => {
  for (const status of [200, 201, 400, 401, 403, 404, 405, 416]) assert.equal(retryDelay(1, { status }, fixed), null, String(status));
  assert.equal(retryDelay(1, { errno: 'ECONNREFUSED' }, fixed), null);
  assert.equal(retryDelay(1, { errno: 'ENOTFOUND' }, fixed), null);
  assert.equal(retryDelay(6, { status: 503 }, fixed), null);
  assert.equal(retryDelay(3, { status: 503 }, { ...fixed, retries: 2 }), null);
});

test('retryDelay: network errors are retryable', () => {
  for (const errno of ['ECONNRESET', 'ETIMEDOUT', 'EPIPE']) assert.notEqual(retryDelay(1, { errno }, fixed), null, errno);
});

test('retryDelay: Retry-After in seconds and as HTTP-date wins, beyond the cap gives up', () => {
  assert.equal(retryDelay(1, { status: 429, retryAfter: '3' }, fixed), 3000);
  assert.equal(retryDelay(1, { status: 503, retryAfter: 'Thu, 01 Jan 2026 00:00:07 GMT' }, fixed), 7000);
  assert.equal(retryDelay(1, { status: 429, retryAfter: '3600' }, fixed), null);
  assert.equal(retryDelay(1, { status: 429, retryAfter: 'soon' }, fixed), 375);
});

test('retryDelay: a 429 saying the pull limit is used up (ratelimit-remaining 0, no Retry-After, a window of hours) is not retried; a transient one still is', () => {
  // Docker Hub's pull limit: the count comes back over six hours, not within a backoff.
  assert.equal(retryDelay(1, { status: 429, rateLimitRemaining: '0;w=21600' }, fixed), null);
  // A count of 0 without a window (an IETF RateLimit-style short limit, which says its reset apart)
  // tells nothing of when it comes back: retried as any 429 (it stopped a sync's registry for the run).
  assert.equal(retryDelay(1, { status: 429, rateLimitRemaining: '0' }, fixed), 375);
  // A short Retry-After wins (Docker Hub's per-address limit sends one, with no count).
  assert.equal(retryDelay(1, { status: 429, retryAfter: '5', rateLimitRemaining: '0;w=21600' }, fixed), 5000);
  assert.equal(retryDelay(1, { status: 429, retryAfter: '60' }, fixed), 60_000);
  // Pulls left, or a window within what the policy waits: retried as any 429.
  assert.equal(retryDelay(1, { status: 429, rateLimitRemaining: '7;w=21600' }, fixed), 375);
  assert.equal(retryDelay(1, { status: 429, rateLimitRemaining: '0;w=30' }, fixed), 375);
  assert.equal(retryDelay(1, { status: 429 }, fixed), 375);
  // A 503 with a count of 0 is an outage, not the limit.
  assert.equal(retryDelay(1, { status: 503, rateLimitRemaining: '0;w=21600' }, fixed), 375);
  // The level above single requests (a whole blob transfer) reads the same from the error.
  const err = new TooManyRequestsError('429', { details: { status: 429, rateLimitRemaining: '0;w=21600' } });
  assert.equal(retryDelay(1, outcomeOfError(err)!, fixed), null);
});

test('waitInBody: GHCR\'s 429 body names its wait as a Go duration; anything else names none', () => {
  const body = (message: unknown, code = 'TOOMANYREQUESTS') => JSON.stringify({ errors: [{ code, message }] });
  assert.equal(waitInBody(body('retry-after: 1.16676ms, allowed: 44000/minute')), 2);
  assert.equal(waitInBody(body('retry-after: 10.305464ms, allowed: 2000/minute')), 11);
  assert.equal(waitInBody(body('retry-after: 985.86µs, allowed: 44000/minute')), 1);
  assert.equal(waitInBody(body('retry-after: 333.939671ms')), 334);
  assert.equal(waitInBody(body('retry-after: 1m30s, allowed: 44000/minute')), 90_000);
  assert.equal(waitInBody(body('retry-after: 0s, allowed: 44000/minute')), 0);
  assert.equal(waitInBody(body('retry-after: 1.5ms', 'toomanyrequests')), 2);
  for (const none of [
    body('You have reached your pull rate limit.'),
    body('retry-after: soon'),
    body('retry-after: 5, allowed: 10/minute'), // no unit: not a Go duration
    body('retry-after: 5ms', 'DENIED'),
    body('retry-after: -5ms'),
    body('retry-after: 5xs'),
    body(5),
    'retry-after: 1ms',
    '{"errors":"retry-after: 1ms"}',
    'null',
  ]) {
    assert.equal(waitInBody(none), undefined, none);
  }
});

test('retryDelay: a wait named in the body (waitMs) is the least delay, not the delay: the backoff still grows; bounded by the cap, second to the header', () => {
  // Was: the body's wait replaced the backoff, so GHCR's `retry-after: 985.86µs` gave delays of
  // 1 ms each and spent every retry within a few ms of the throttle.
  const ghcr = waitInBody(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'retry-after: 985.86µs, allowed: 44000/minute' }] }));
  assert.equal(ghcr, 1);
  const delays = [1, 2, 3, 4, 5].map((n) => retryDelay(n, { status: 429, waitMs: ghcr }, fixed));
  assert.deepEqual(delays, [1, 2, 3, 4, 5].map((n) => retryDelay(n, { status: 429 }, fixed)));
  assert.deepEqual(delays, [375, 750, 1500, 3000, 6000]);
  // A wait longer than the backoff is waited in full.
  assert.equal(retryDelay(1, { status: 429, waitMs: 2_500 }, fixed), 2_500);
  assert.equal(retryDelay(1, { status: 429, waitMs: 60_001 }, fixed), null);
  assert.equal(retryDelay(1, { status: 429, retryAfter: '3', waitMs: 2 }, fixed), 3000);
  // A 429 naming its wait is not a spent quota, whatever the count says.
  assert.equal(retryDelay(1, { status: 429, rateLimitRemaining: '0;w=21600', waitMs: 5 }, fixed), 375);
  // The level above (a whole blob transfer) reads it from the error, as the same floor.
  const err = new TooManyRequestsError('x', { details: { status: 429, waitInBody: 7 } });
  assert.equal(retryDelay(1, outcomeOfError(err)!, fixed), 375);
  const longer = new TooManyRequestsError('x', { details: { status: 429, waitInBody: 2_000 } });
  assert.equal(retryDelay(1, outcomeOfError(longer)!, fixed), 2_000);
});

test('parseRetryAfter handles absent, past and malformed values', () => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('-5', now), undefined);
  // V8's Date.parse reads loose text as a date (`in 5` is 2001-05-01): taken as one, such a value
  // would mean "retry now", dropping the backoff. Only the three HTTP-date forms count.
  for (const loose of ['in 5', 'later 10', 'x 2030', '5 minutes 2099']) assert.equal(parseRetryAfter(loose, now), undefined, loose);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:15 GMT', now), 5000); // IMF-fixdate
  assert.equal(parseRetryAfter('Thursday, 01-Jan-26 00:00:15 GMT', now), 5000); // RFC 850
  assert.equal(parseRetryAfter('Thu Jan  1 00:00:15 2026', now), 5000); // asctime (GMT by definition)
});
