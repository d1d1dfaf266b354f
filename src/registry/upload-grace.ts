/**
 * How an upload request meets the operation's interruption (Ctrl-C, a failed run): let finish for a
 * bounded time instead of cut at once, so that the upload session it touches stays one the run can
 * cancel, and a session opened meanwhile is reported to the run (InterruptedSession). A module of
 * its own because it is a policy over requests, not a Distribution API call: blob-uploads.ts sends
 * its POSTs, PATCHes and PUTs through it.
 */
import { AbortedError } from '../errors.js';
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { InterruptedSession } from './registry-client.js';
import type { RegistryHttp } from './registry-http.js';

/** How long cancelling an upload session may take, and how long an interrupted upload request gets to be answered (ms). */
export const CANCEL_TIMEOUT_MS = 5_000;

/**
 * Sends an upload request that an interruption does not cut at once: the registry keeps the
 * state of a session in its URL (distribution signs the offset into `_state`), so a request cut
 * in the middle of its body leaves a session that no URL we hold can cancel any more (every
 * later request on it is answered 404 BLOB_UPLOAD_INVALID, "upload resumed at wrong offset").
 * Once the operation is interrupted the request gets CANCEL_TIMEOUT_MS to be answered, and
 * `onInterrupt` may end its body early; past that it is cut. Without an operation signal the
 * request is sent as any other.
 */
export async function sendWithGrace(http: RegistryHttp, req: Omit<HttpRequest, 'signal'>, abortMessage: string, onInterrupt?: () => void): Promise<{ res: HttpResponse; interrupted: boolean }> {
  const op = http.signal;
  if (!op) return { res: await http.request(req), interrupted: false };
  if (op.aborted) throw new AbortedError(abortMessage, { details: { registry: http.registry } });
  let interrupted = false;
  const bounded = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const startGrace = (): void => {
    interrupted = true;
    onInterrupt?.();
    grace = setTimeout(() => bounded.abort(), CANCEL_TIMEOUT_MS);
  };
  // One listener per upload request while it is under way (in the agent's queue for a socket, or
  // sent), removed when it settles: an upload waiting for its transfer slot (--jobs) has not come
  // here yet, so a sync of many images has no more of these at once than uploads in flight
  // (--images × --jobs × targets), the bound every request's own listener has (engine.ts).
  op.addEventListener('abort', startGrace, { once: true });
  try {
    // A request not yet on the wire at the interruption (waiting for a pooled socket behind other
    // transfers) is not sent: the grace is for one the registry is already taking.
    return { res: await http.send({ ...req, signal: bounded.signal, unsentSignal: op }), interrupted };
  } catch (err) {
    if (interrupted) throw new AbortedError(abortMessage, { cause: err, details: { registry: http.registry } });
    throw err;
  } finally {
    op.removeEventListener('abort', startGrace);
    clearTimeout(grace);
  }
}

/**
 * The report of a session a POST to `repo` may open while the operation is interrupted, which
 * the client then cancels itself (InterruptedSession): `interrupted` tells onInterruptedSession at
 * the interruption, `cancelled` settles it (the first call counts; a POST answered without a
 * session, or cut, settles true: no session is known to stay).
 */
export function ownCancel(registry: string, repo: string, onInterruptedSession: ((s: InterruptedSession) => void) | undefined): { interrupted: () => void; cancelled: (ok: boolean) => void } {
  let settle: ((ok: boolean) => void) | undefined;
  return {
    interrupted: () => {
      const cancelled = new Promise<boolean>((resolve) => (settle = resolve));
      onInterruptedSession?.({ registry, repo, cancelled });
    },
    cancelled: (ok) => {
      settle?.(ok);
      settle = undefined;
    },
  };
}
