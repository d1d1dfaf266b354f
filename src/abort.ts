/**
 * What every layer does with the caller's AbortSignal: wait without outliving it (sleep,
 * untilAborted), refuse to start once it has fired (abortedBeforeStart), give an operation
 * without a TransferRun a signal of its own (operationSignal) and its caller's reason
 * (withAbortReason). A leaf: it imports only errors.ts.
 */
import { setMaxListeners } from 'node:events';
import { AbortedError } from './errors.js';

/**
 * What an operation throws, before it sends anything, when the caller's signal had already fired:
 * such a signal never fires again, so the operation would otherwise run as if not cancelled (or
 * fail at its first request as if that had been cut off). The caller's reason is the cause.
 */
export function abortedBeforeStart(signal: AbortSignal): AbortedError {
  return new AbortedError('interrupted before it started (the abort signal had already fired): nothing was sent', { cause: signal.reason });
}

/**
 * The signal the requests of one operation without a TransferRun (inspect, login, the registry
 * commands) listen on: the caller's, derived with AbortSignal.any, which adds no listener to the
 * caller's signal, and without a listener bound. Every request and open body listens on the
 * signal it is given: on the caller's own, a deleteImage's parallel tag lookups, or 11 calls
 * sharing one signal, made Node print MaxListenersExceededWarning in the caller's process (a
 * library caller's signal has the default bound of 10). How many listen at once grows with the
 * operation's parallel requests, so no fixed bound on this signal of its own is true; each
 * listener is removed when its request or body ends (as on a transfer run's signal, engine.ts).
 * A signal that has already fired: abortedBeforeStart, before anything is sent.
 */
export function operationSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (!signal) return undefined;
  if (signal.aborted) throw abortedBeforeStart(signal);
  const own = AbortSignal.any([signal]);
  setMaxListeners(0, own);
  return own;
}

/**
 * What an operation without a TransferRun may have written when it is interrupted (withAbortReason):
 * `reads` nothing (inspect, the tag list, a digest, the catalog); `writes` at a registry (tag,
 * untag, delete: a write cut off once sent may have taken effect, none is sent after it); `login`
 * stores a login once the registry has accepted it, and nothing before.
 */
export type AbortedWrites = 'reads' | 'writes' | 'login';

/**
 * The request an AbortedError was cut off in (`GET https://…`), if it names one: the transport's
 * carry it as `details.request` (abortedRequest, http/send-errors.ts). Read from there, not from
 * the message: an upload's says `aborted: PATCH upload to …`, whose first words are no request.
 */
function cutRequest(err: unknown): string | undefined {
  return err instanceof AbortedError ? err.details.request : undefined;
}

/**
 * Whether the write an AbortedError was cut off in never went out: the transport had given it no
 * connected socket yet (`details.unsent`, a manifest PUT's: registry/manifests.ts), so the
 * registry cannot have taken it.
 */
function neverSent(err: unknown): boolean {
  return err instanceof AbortedError && err.details.unsent === true;
}

/**
 * `err` as such an operation rejects with it once its signal has fired: in the words push, copy
 * and sync use (`interrupted: …`, abortedOr in src/transfer/engine.ts), naming the request that was
 * cut off and what was written (`writes`): `interrupted: GET https://… was cut off; nothing was
 * written`. A write cut off before it went out (neverSent) took no effect: `interrupted: PUT
 * https://… was cut off before it was sent; nothing was written after the interruption`.
 * Whatever failure the abort caused further down (a destroyed stream, a cancelled request) is an
 * AbortedError so worded, with the caller's reason (AbortSignal.timeout's TimeoutError, the Error
 * given to abort()) as its cause. Before the signal fires, `err` as it is.
 */
export function withAbortReason(err: unknown, signal: AbortSignal | undefined, writes: AbortedWrites): unknown {
  if (!signal?.aborted) return err;
  const request = cutRequest(err);
  const written =
    writes === 'login' ? 'nothing was stored'
    : writes === 'reads' ? 'nothing was written'
    : request && !/^(?:GET|HEAD) /.test(request) && !neverSent(err) ? 'it may have taken effect at the registry; nothing was sent after it'
    : 'nothing was written after the interruption';
  const cut = request ? `${request} was cut off${neverSent(err) ? ' before it was sent' : ''}; ` : '';
  const details = err instanceof AbortedError ? { ...err.details } : {};
  return new AbortedError(`interrupted: ${cut}${written}`, { cause: signal.reason, details });
}

/** Sleeps `ms`, rejecting with AbortedError when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `p`, or an AbortedError as soon as `signal` fires (`p` itself goes on). */
export function untilAborted<T>(signal: AbortSignal | undefined, p: Promise<T>): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(new AbortedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
