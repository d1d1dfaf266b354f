/**
 * A 429 that names its wait only in its error body (GHCR: `retry-after: 1.16676ms, allowed:
 * 44000/minute`, no Retry-After header; waitInBody in retry.ts): the body is read here, below the
 * retries, and the wait set on the answer (HttpResponse.waitInBody), which the retry middleware
 * and the error (response.ts) then read as a Retry-After. Without it regpush backed off its own
 * 0.5 s and more. Only a 429 without Retry-After is read; its bytes are handed on as its body.
 */
import { settledBody } from './response.js';
import { waitInBody } from './retry.js';
import type { Middleware } from './types.js';

export function bodyWaitMiddleware(): Middleware {
  return (next) => async (req) => {
    const res = await next(req);
    if (res.status !== 429 || res.headers['retry-after']) return res;
    const settled = await settledBody(res);
    const wait = waitInBody(settled.bytes.toString('utf8'));
    if (wait !== undefined) settled.res.waitInBody = wait;
    return settled.res;
  };
}
