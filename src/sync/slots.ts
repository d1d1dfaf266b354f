/** One image's --images slot (Slots.claim). */
export interface UnitSlot {
  /** Waits for a slot. */
  take(): Promise<void>;
  /** Lends the slot out while the gate holds the image's manifest reads. */
  leave(): void;
  /** Takes a slot back, at once, when the gate lets the image go on. */
  back(): void;
  /** Takes the next free slot, before the images not started (the gate has let the image's first GET through). */
  again(): Promise<void>;
  /** Gives the slot up for good (the image has ended). */
  done(): void;
}

/**
 * The --images slots. An image whose manifest reads the pull-limit gate holds lends its slot to
 * the next image (of another registry, whose count is not low) while it waits, and when let go
 * takes one back at once, over the count if none is free: it must not wait behind images that
 * may themselves wait for it (a blob one of them is landing), and there are at most --images such
 * images, each briefly.
 */
export class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Images let through at their first GET, waiting for a slot before those in `waiting`. */
  private readonly urgent: (() => void)[] = [];

  constructor(private readonly size: number) {}

  claim(): UnitSlot {
    let mine = false;
    const giveUp = (): void => {
      if (mine) {
        mine = false;
        this.give();
      }
    };
    return {
      take: async () => {
        if (this.active < this.size) this.active++;
        else await new Promise<void>((resolve) => this.waiting.push(resolve)); // active counted by give()
        mine = true;
      },
      leave: giveUp,
      back: () => {
        if (!mine) {
          mine = true;
          this.active++;
        }
      },
      again: async () => {
        if (mine) return;
        if (this.active < this.size) this.active++;
        else await new Promise<void>((resolve) => this.urgent.push(resolve)); // active counted by give()
        mine = true;
      },
      done: giveUp,
    };
  }

  private give(): void {
    this.active--;
    while (this.active < this.size && (this.urgent.length || this.waiting.length)) {
      this.active++;
      (this.urgent.shift() ?? this.waiting.shift())!();
    }
  }
}
