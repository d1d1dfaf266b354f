/** --debug request log: method, redacted URL, status and timing of every hop. Never headers or bodies. */
import type { Logger } from '../log.js';
import { redactUrl } from '../redact.js';
import type { Middleware } from './types.js';

/** Middleware logging each request at debug level. */
export function debugMiddleware(logger: Logger): Middleware {
  return (next) => async (req) => {
    const t0 = performance.now();
    try {
      const res = await next(req);
      logger.debug(`http ${req.method} ${redactUrl(req.url)} → ${res.status} (${Math.round(performance.now() - t0)} ms)`);
      return res;
    } catch (err) {
      logger.debug(`http ${req.method} ${redactUrl(req.url)} → failed: ${(err as Error).message} (${Math.round(performance.now() - t0)} ms)`);
      throw err;
    }
  };
}
