/** The order of sync's report units (report.ts's report()). */
import type { SyncUnitReport } from './options.js';

type Ordered = Pick<SyncUnitReport, 'entry' | 'source'>;

/** `images[N]` at the start of an entry's label (sync/config.ts): the entry's index in the file. */
const ENTRY_INDEX = /^images\[(\d+)\]/;

/**
 * The report's order: by entry, numbers in labels compared as numbers (`images[2]` before
 * `images[10]`), then by source. It is the order of `localeCompare(…, 'en', { numeric: true })` on
 * the labels and `localeCompare` on the sources, which each call only where it is needed: two
 * labels that start with different `images[N]` are ordered by N alone (the collation compares
 * their equal `images[` and then the numbers), and equal strings are equal. The first collation a
 * process asks for makes ICU load its collator (~6 ms of CPU): a re-run of a sync file whose
 * entries each name one tag pays none.
 */
export function byEntryThenSource(a: Ordered, b: Ordered): number {
  if (a.entry !== b.entry) {
    const i = ENTRY_INDEX.exec(a.entry)?.[1];
    const j = ENTRY_INDEX.exec(b.entry)?.[1];
    if (i !== undefined && j !== undefined && i !== j && !/^0\d/.test(i) && !/^0\d/.test(j)) return Number(i) - Number(j);
    const byEntry = a.entry.localeCompare(b.entry, 'en', { numeric: true });
    if (byEntry) return byEntry;
  }
  return a.source === b.source ? 0 : a.source.localeCompare(b.source);
}
