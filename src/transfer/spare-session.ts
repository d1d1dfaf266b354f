/**
 * An upload session opened ahead of need: its POST goes out alongside requests that would
 * otherwise come first (a push asks the target what its tag holds before it builds a layer), so
 * the first upload that wants a session finds one open instead of waiting a round trip for it.
 * Taken once; when nobody takes it (the layer turned out to be reused) it is cancelled. The run's
 * UploadSessions tracks it meanwhile, so an interruption names it if its cancel fails.
 */
import type { RepoEndpoint, TransferContext } from './types.js';
import { cancel, openSession, type HandedSession } from './upload.js';

export class SpareSession {
  private readonly opened: Promise<{ session: HandedSession } | { error: unknown }>;
  private used = false;

  constructor(
    private readonly target: RepoEndpoint,
    private readonly ctx: TransferContext,
  ) {
    this.opened = openSession(target, ctx).then(
      (session) => ({ session }),
      // Its POST is the taker's POST (already retried by the transport): the taker gets its failure.
      (error: unknown) => ({ error }),
    );
  }

  /**
   * The open session for the first caller (undefined for later ones, or once released); rejects
   * with the POST's failure, as the caller's own POST would have. Handed over with the run's
   * record of it still open (HandedSession), which the taker's uploadBlob goes on with: closed
   * here, the session was uncounted until the taker's upload tracked it anew, and a run stopped
   * meanwhile (a push's layer upload takes it only once its build has answered, which an
   * interruption does not hurry) could end settle() with no session open, and report before its
   * cancel reached the registry.
   */
  async take(): Promise<HandedSession | undefined> {
    if (this.used) return undefined;
    this.used = true;
    const o = await this.opened;
    if ('error' in o) throw o.error;
    return o.session;
  }

  /** Cancels the session unless someone took it; resolves once the registry has answered (every call the same). */
  release(): Promise<void> {
    if (this.used && !this.releasing) return Promise.resolve();
    this.used = true;
    return (this.releasing ??= this.opened.then((o) => ('error' in o ? undefined : cancel(this.target, o.session.tracked, this.ctx))));
  }

  private releasing?: Promise<void>;
}
