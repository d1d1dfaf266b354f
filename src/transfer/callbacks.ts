/**
 * The caller's callbacks (the `events` option of push, copy and sync), each called through one
 * guard. regpush calls them from wherever the progress happens: a stream's 'data' handler, the
 * layer builder's generator, a timer, a promise chain. A throw in the first would be an uncaught
 * exception that ends the caller's process, out of reach of its try/catch; in the layer builder it
 * would break the upload's body and be reported as the registry's failure (E_NETWORK); in a promise
 * chain it would set one target aside as if that target had failed. Through the guard, the first
 * throw (or rejection, for an async callback) stops the run — every request is cancelled, so no tag
 * is written after it — and the operation rejects with the caller's own error, unchanged. No
 * callback is called after it. Every other failure of the operation is a RegpushError (around()).
 */

import { asRegpushError, markResult, type ResultOperation } from '../errors.js';

/** A caller's error, kept as thrown (it may be anything, `undefined` included). */
interface Thrown {
  error: unknown;
}

/** One operation's guard over the caller's callbacks. */
export class CallerCallbacks {
  private thrown: Thrown | undefined;
  private stopRun: ((err: unknown) => void) | undefined;

  /**
   * `events` with each callback named in `names` called through the guard; the others are left
   * out (the operation calls no other). A class instance's methods are called on the instance.
   */
  guard<E extends object>(events: E | undefined, names: readonly string[]): E | undefined {
    if (events === undefined) return undefined;
    const out: Record<string, (...args: unknown[]) => unknown> = {};
    for (const name of names) {
      const fn = (events as Record<string, unknown>)[name];
      if (typeof fn !== 'function') continue;
      out[name] = (...args: unknown[]) => this.call(() => (fn as (...a: unknown[]) => unknown).apply(events, args));
    }
    return out as E;
  }

  /** What stops the run at the first throw (the operation's TransferRun, once it exists; a throw before that stops it then). */
  onThrow(stop: (err: unknown) => void): void {
    this.stopRun = stop;
    if (this.thrown) stop(this.thrown.error);
  }

  /** True once a callback has thrown. */
  get threw(): boolean {
    return this.thrown !== undefined;
  }

  /**
   * Runs the operation's body: it rejects with the caller's error where a callback threw (whatever
   * failure the stop caused further down), and so does a body that ended well after such a throw.
   * Any other failure is a RegpushError (asRegpushError: a stray error is E_INTERNAL, as itself the
   * `cause`), so a library caller can tell its own callback's error from regpush's by `instanceof`.
   * A result it carries (`details.result`) is marked as `operation`'s (markResult).
   */
  async around<T>(body: () => Promise<T>, operation?: ResultOperation): Promise<T> {
    let result: T;
    try {
      result = await body();
    } catch (err) {
      throw this.thrown ? this.thrown.error : markResult(asRegpushError(err), operation);
    }
    if (this.thrown) throw this.thrown.error;
    return result;
  }

  private call(fn: () => unknown): unknown {
    if (this.thrown) return undefined;
    try {
      const r = fn();
      // An async callback's rejection would otherwise be unhandled (which ends the process too).
      if (typeof (r as PromiseLike<unknown> | undefined)?.then === 'function') (r as PromiseLike<unknown>).then(undefined, (err: unknown) => this.fail(err));
      return r;
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  private fail(err: unknown): void {
    if (this.thrown) return;
    this.thrown = { error: err };
    this.stopRun?.(err);
  }
}
