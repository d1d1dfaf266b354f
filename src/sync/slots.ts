/** One image's --images slot (Slots.claim). */
export interface UnitSlot {
  /** Waits for a slot. */
  take(): Promise<void>;
  /** Lends the slot out while the gate holds the image's manifest reads. */
  leave(): void;
  /** Takes a slot back, at once, when the gate lets the image go on; none once the image has ended. */
  back(): void;
  /**
   * Takes the next free slot, before the images not started (the gate has let the image's first
   * GET through). One that comes after the image has ended goes straight on to the next image.
   */
  again(): Promise<void>;
  /** Gives the slot up for good (the image has ended); again() and back() take none after this. */
  done(): void;
}

/**
 * The --images slots. An image whose manifest reads the pull-limit gate holds lends its slot to
 * the next image (of another registry, whose count is not low) while it waits, and when let go
 * takes one back at once, over the count if none is free: it must not wait behind images that
 * may themselves wait for it (a blob one of them is landing), and there are at most --images such
 * images, each briefly. An image let through at its first GET waits for the next free slot
 * instead, before the images not started.
 *
 * An image can end while it has lent its slot out: a read it started early and no longer waits
 * for is the one the gate let go (its source HEAD failed meanwhile). It holds no slot then, so
 * done() frees none; a slot that again() gets for it afterwards is handed straight on, and back()
 * takes none. Kept, that slot would never be given back: each such image would cost one for the
 * rest of the run, and after --images of them the sync would wait for ever.
 */
export class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Images let through at their first GET, waiting for a slot before those in `waiting`. */
  private readonly urgent: (() => void)[] = [];

  constructor(private readonly size: number) {}

  claim(): UnitSlot {
    let mine = false;
    let ended = false;
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
        if (!mine && !ended) {
          mine = true;
          this.active++;
        }
      },
      again: async () => {
        if (mine || ended) return;
        if (this.active < this.size) this.active++;
        else await new Promise<void>((resolve) => this.urgent.push(resolve)); // active counted by give()
        // The image ended while it waited: the slot goes on to the next image.
        if (ended) this.give();
        else mine = true;
      },
      done: () => {
        ended = true;
        giveUp();
      },
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
