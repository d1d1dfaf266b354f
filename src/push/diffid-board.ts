/**
 * Per new layer, its diffID as soon as anything has learnt it: the warm path's diffID pass, the
 * end of the layer's tar (before its last blocks are compressed and sent), or its final result.
 * The first answer stands; composeStage checks the final results against it.
 */
export class DiffIdBoard {
  private readonly slots: { promise: Promise<string | undefined>; set: (id: string | undefined) => void }[];

  constructor(n: number) {
    this.slots = Array.from({ length: n }, () => {
      let set!: (id: string | undefined) => void;
      const promise = new Promise<string | undefined>((r) => (set = r));
      return { promise, set };
    });
  }

  /** Layer `i`'s diffID (undefined: the layer was not produced). Later calls are ignored. */
  set(i: number, id: string | undefined): void {
    this.slots[i]!.set(id);
  }

  all(): Promise<(string | undefined)[]> {
    return Promise.all(this.slots.map((s) => s.promise));
  }
}
