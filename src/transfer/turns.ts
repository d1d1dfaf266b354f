/**
 * Work that must not overlap, run one piece at a time per key, in the order asked for. The run
 * holds one (TransferContext.fallbackIndexes) for the read-modify-writes of OCI fallback indexes,
 * which two images of a run may both make of one index.
 */
export class Turns {
  /** Per key: the last piece asked for, settled once it has ended (however it ended). */
  private readonly last = new Map<string, Promise<void>>();

  /**
   * Runs `work` once every piece asked for earlier under `key` has ended; its result or error is
   * this call's. `waiting` is called (once, before waiting) when an earlier piece is still running.
   */
  async take<T>(key: string, work: () => Promise<T>, waiting?: () => void): Promise<T> {
    const before = this.last.get(key);
    let ended!: () => void;
    const mine = new Promise<void>((resolve) => (ended = resolve));
    this.last.set(key, mine);
    try {
      if (before) {
        waiting?.();
        await before;
      }
      return await work();
    } finally {
      ended();
      if (this.last.get(key) === mine) this.last.delete(key);
    }
  }
}
