/**
 * A deadline for an answer: a request whose response headers have not arrived within `ms` is
 * cancelled and fails as a network error (ETIMEDOUT), and so does a body, once the headers are
 * there, that then goes `ms` without a byte while it is read. The transport's own idle timeout
 * (axios-send.ts) only fires after a silence of 60 s by default; that is right for a registry a
 * run depends on, but a mirror is only worth asking while it answers promptly: dockerd and
 * containerd try a mirror host once and move on to the next endpoint. The body's limit is an idle
 * one, not a total: a blob may be large, and one that keeps arriving is worth finishing.
 */
import { NetworkError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { watchIdle } from './idle.js';
import { abortedRequest } from './send-errors.js';
import type { Middleware } from './types.js';

export function answerDeadlineMiddleware(ms: number): Middleware {
  return (next) => async (req) => {
    const parent = req.signal;
    if (parent?.aborted) throw abortedRequest(req);
    // The request below is given a signal of its own, which the caller's still cancels.
    const ctl = new AbortController();
    const forward = (): void => ctl.abort(parent?.reason);
    parent?.addEventListener('abort', forward, { once: true });
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      ctl.abort();
    }, ms);
    const timeout = (what = `no answer within ${ms} ms`): NetworkError => {
      const host = new URL(req.url).host;
      return new NetworkError(`cannot reach ${host}: ${what} (ETIMEDOUT)`, {
        details: { registry: host, request: `${req.method} ${redactUrl(req.url)}`, errno: 'ETIMEDOUT' },
      });
    };
    try {
      const res = await next({ ...req, signal: ctl.signal });
      if (late && !parent?.aborted) {
        // The headers came as the deadline fired: the body's cancel is already spent, so it is not kept.
        res.body.destroy();
        throw timeout();
      }
      // The body goes on under the signal given below: the caller's cancel reaches it until it closes.
      if (parent) res.body.once('close', () => parent.removeEventListener('abort', forward));
      // Headers and then silence (a cache whose upstream fetch hung) fails within the same `ms`.
      watchIdle(res.body, ms, () => timeout(`response stalled for ${ms} ms`));
      return res;
    } catch (err) {
      parent?.removeEventListener('abort', forward);
      if (late && !parent?.aborted) throw err instanceof NetworkError && err.details.errno === 'ETIMEDOUT' ? err : timeout();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}
