/**
 * The blobs a run took on a registry's word: confirmed by the 201 that closed their upload (or
 * mount) alone, with no HEAD (TargetSet.confirm). Kept for the whole run, per target repository
 * (statedKey), whichever image landed them: the images after it that need the blob there skip it
 * as landed, and a manifest of theirs may be the one the registry refuses with
 * MANIFEST_BLOB_UNKNOWN. A blob stays on word until a check HEADs it; that check is kept, so each
 * manifest naming the blob that is refused while it runs, or after it passed, waits for it
 * instead of sending another.
 */
export class TakenOnWord {
  /** statedKey → 'word' (not checked yet), or its check. */
  private readonly blobs = new Map<string, 'word' | Promise<void>>();

  /** `key` was taken on its 201's word (a blob whose check failed and that lands again is on word again). */
  note(key: string): void {
    if (!this.blobs.has(key)) this.blobs.set(key, 'word');
  }

  /**
   * The check of `key`: started now with `head` when the blob is on word (`started`), the one
   * started before otherwise; undefined when the run never took the blob on word. A check that
   * fails is forgotten, for a later landing of the blob.
   */
  check(key: string, head: () => Promise<void>): { started: boolean; done: Promise<void> } | undefined {
    const state = this.blobs.get(key);
    if (state === undefined) return undefined;
    if (state !== 'word') return { started: false, done: state };
    const done = head();
    this.blobs.set(key, done);
    done.catch(() => {
      if (this.blobs.get(key) === done) this.blobs.delete(key);
    });
    return { started: true, done };
  }
}
