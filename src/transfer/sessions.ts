/**
 * The upload sessions a run has open, each with the state the registry expects now: the Location
 * it last answered. uploadBlob (upload.ts) records every session it opens or is handed, moves it
 * to each new Location, and closes it when the blob is stored or the session cancelled. A session
 * whose cancel the registry did not confirm is kept as "left": distribution signs the offset into
 * the upload URL (`_state`), so after a request cut in the middle of its body (a monolithic PUT, a
 * chunk past its grace) no URL the client holds matches the bytes stored, and every request on the
 * session, the DELETE included, is answered 404 BLOB_UPLOAD_INVALID. The bytes then stay until the
 * registry purges stale uploads (distribution: `storage.maintenance.uploadpurging`, by default
 * uploads older than 168 h, checked every 24 h). The run's error names those sessions; a run that
 * succeeds all the same (the blob was sent again on a new session) names them in a warning. A DELETE
 * answered 404 BLOB_UPLOAD_UNKNOWN is not one of them: the registry has no such session (a closing
 * PUT cut off before its answer had stored the blob), so nothing stays (registry/blob-uploads.ts, cancel).
 */

import type { InterruptedSession } from '../registry/registry-client.js';

/** One upload session as the run tracks it. */
export interface TrackedSession {
  registry: string;
  repo: string;
  /** The session URL with the state the registry last answered. */
  url?: string;
  /** Body bytes handed to requests on this session so far. */
  sent: number;
  /** The request in flight, in words ("a monolithic PUT"), while there is one. */
  doing?: string;
  /**
   * The target it was opened for, the RepoEndpoint (types.ts, not imported: it imports this
   * file) compared by identity: TransferRun.targets makes each image's, so that a failed image
   * of a sync names only its own sessions left. None for a session a client opened on its own as
   * the run was interrupted (cancelledByClient).
   */
  target?: object;
}

/** A session the registry did not let us cancel. */
export interface LeftSession {
  registry: string;
  repo: string;
  sent: number;
  /** Why it could not be cancelled, in words. */
  why: string;
  /** As TrackedSession.target. */
  target?: object;
}

export class UploadSessions {
  private readonly open = new Set<TrackedSession>();
  private readonly waiters = new Set<() => void>();
  /** Sessions whose cancel the registry did not confirm, in the order met. */
  readonly left: LeftSession[] = [];

  /** Starts tracking `s` (idempotent). */
  track(s: TrackedSession): void {
    this.open.add(s);
  }

  /** `s` is over: its blob was stored, or the registry confirmed its cancel. */
  closed(s: TrackedSession): void {
    this.open.delete(s);
    this.wake();
  }

  /**
   * A session a client opened as the run was interrupted and cancels on its own (its POST, or a
   * mount answered 202): open until that cancel ends, then closed, or left when the registry did
   * not confirm it — named with the others, though nothing was sent on it and no URL reached us.
   */
  cancelledByClient(s: InterruptedSession): void {
    const state: TrackedSession = { registry: s.registry, repo: s.repo, sent: 0 };
    this.track(state);
    void s.cancelled.then((ok) => (ok ? this.closed(state) : this.abandoned(state)));
  }

  /**
   * The registry refused or did not answer the cancel of `s`: its bytes may stay until it purges
   * them. "May": a cut of the client's own (an interruption, a stalled source) races its DELETE
   * with the registry finishing the request or noticing the cut, so the session may be gone already.
   */
  abandoned(s: TrackedSession): void {
    if (!this.open.delete(s)) return;
    this.left.push({ registry: s.registry, repo: s.repo, sent: s.sent, why: s.doing ? `cut in the middle of ${s.doing}` : 'the registry did not confirm the cancel', target: s.target });
    this.wake();
  }

  /** Sessions still open. */
  get pending(): number {
    return this.open.size;
  }

  /** Sessions still open that were opened for one of `targets` (TrackedSession.target, by identity). */
  pendingAt(targets: ReadonlySet<object>): number {
    let n = 0;
    for (const s of this.open) if (s.target !== undefined && targets.has(s.target)) n++;
    return n;
  }

  /**
   * Resolves once every open session is closed or left, or after `ms`: sessions still open then
   * (their cancel still running) are counted as left.
   */
  async settled(ms: number): Promise<void> {
    if (this.open.size) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.open.size) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        timer = setTimeout(() => {
          this.waiters.delete(check);
          resolve();
        }, ms);
      });
      clearTimeout(timer);
    }
    for (const s of [...this.open]) {
      this.open.delete(s);
      this.left.push({ registry: s.registry, repo: s.repo, sent: s.sent, why: 'its cancel did not finish in time', target: s.target });
    }
  }

  /** The sessions `left` (by default every one left behind), in one clause for an error or warning line; undefined when none. */
  describeLeft(left: readonly LeftSession[] = this.left): string | undefined {
    const n = left.length;
    if (!n) return undefined;
    const each = left.map((s) => `${s.registry}/${s.repo} (${bytesText(s.sent)} sent, ${s.why})`).join('; ');
    return `${n === 1 ? '1 upload session' : `${n} upload sessions`} could not be cancelled and may stay in the registry's upload area until it purges stale uploads: ${each}`;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function bytesText(n: number): string {
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)} MB` : `${n} bytes`;
}
