/**
 * A sync file's entries as units: the explicit tags, or the source's tag list through the entry's
 * filters. A repository is listed once, however many entries read it, four listings at a time,
 * and its list is selected from for all of those entries as soon as it arrives, inside its
 * listing's turn: only the tags each entry keeps stay, not the full list. (2,000 repositories of
 * 2,000 tags each, a filter keeping one tag: a peak of 162 MB, where keeping every full list until
 * the last had been read took 440 MB.)
 */
import pLimit from 'p-limit';
import { asRegpushError, type RegpushError } from '../errors.js';
import type { Logger } from '../log.js';
import { repositoryName, type ImageReference } from '../ref/reference.js';
import { isReferrerTag } from '../transfer/referrers.js';
import type { SyncImage } from './options.js';
import type { OutageBreaker } from './outage.js';
import { needsTagList, selectTags } from './select.js';
import { syncUnits, type SyncUnit } from './target.js';

/** One unit of work, with the entry it comes from. */
export interface Work {
  image: SyncImage;
  unit: SyncUnit;
}

/** One entry's units, or why its tags could not be listed. */
export interface Expanded {
  image: SyncImage;
  work?: Work[];
  error?: RegpushError;
  /** For an entry whose filter read the source's tag list: the tags it chose from (cosign's left out with `referrers`). */
  listed?: number;
}

/**
 * Reads the tag list of a source repository: only the tags a reference can name, each left out
 * told to `warn` (RepoMemory.tagList, where a listed tag is checked). `forReferrers`: an
 * entry of the file copies referrers from it, whose walk looks for cosign's tags in the same list
 * (kept for the run); otherwise the list is dropped once selected from.
 */
export type TagLister = (source: ImageReference, forReferrers: boolean, warn: (line: string) => void) => Promise<string[]>;

/**
 * Whose pulls reading `source` spends (RegistryClient.pullsOwner): the outage breaker keeps a
 * used-up pull limit per reader. `answeredBy`: the registry that answered (answeredBy), where a
 * source read through mirrors may have been read at a mirror or at the registry itself.
 */
export type PullsOwnerOf = (source: ImageReference, answeredBy?: string) => Promise<string>;

/** The registry that answered with `err` (its `details.registry`), where it names one. */
export function answeredBy(err: RegpushError): string | undefined {
  return typeof err.details.registry === 'string' ? err.details.registry : undefined;
}

/** Tag lists read at once. */
const LISTINGS = 4;

/**
 * Each entry's units. Never rejects: an entry whose tag list cannot be read, or whose filter
 * fails on it, carries the error; the others go on. A registry that is down fails its listings
 * as it fails images (`breaker`): after the outage threshold, the rest of its listings are not
 * attempted, where each would spend its retries (~12 s) and a file of 2,000 entries there would
 * hold the whole sync for most of two hours before any image started.
 */
export async function expandEntries(entries: readonly SyncImage[], breaker: OutageBreaker, logger: Logger, listTags: TagLister, ownerOf: PullsOwnerOf): Promise<Expanded[]> {
  const lists = pLimit(LISTINGS);
  // The entries that read each repository's list (an explicit list reads none).
  const readers = new Map<string, SyncImage[]>();
  for (const image of entries) {
    if (!image.tags || !needsTagList(image.tags)) continue;
    const key = repositoryName(image.source);
    const those = readers.get(key);
    if (those) those.push(image);
    else readers.set(key, [image]);
  }
  // The repositories whose referrers some entry copies, whether it lists the tags or names them:
  // its walks read the same list, so it is read once, kept, and its tags left out warned of once.
  const walked = new Set(entries.filter((e) => e.referrers).map((e) => repositoryName(e.source)));
  const selected = new Map<string, Promise<Map<SyncImage, Selection | RegpushError>>>();
  // `asker`: the entry the list is read for, which its warnings name (the others reading it share the read).
  const list = async (source: ImageReference, asker: SyncImage): Promise<string[]> => {
    // Asked of the breaker only where a pull limit is used up (a credential lookup). A tag list is
    // read at the registry itself, never at a mirror (MirroredClient.listTags): its reader is the
    // registry's (answeredBy the registry), as a listing's failure below is noted. Asked without
    // it, a mirrored source's was the first mirror's, and a listing the registry's used-up limit
    // should stop was sent, to be refused in turn.
    const owner = () => ownerOf(source, source.registry);
    const refused = await breaker.refusal(source.registry, owner);
    if (refused) throw refused;
    try {
      const tags = await listTags(source, walked.has(repositoryName(source)), (line) => logger.warn(`${asker.label}: ${line}`));
      breaker.succeeded(source.registry);
      return tags;
    } catch (err) {
      const e = asRegpushError(err);
      await breaker.failed(source.registry, e, () => ownerOf(source, answeredBy(e)));
      throw err;
    }
  };
  const selectionOf = (image: SyncImage): Promise<Map<SyncImage, Selection | RegpushError>> => {
    const key = repositoryName(image.source);
    let p = selected.get(key);
    if (!p) {
      p = lists(async () => {
        const tags = await list(image.source, image);
        // Selected before this listing's turn ends, that is before the next list is read; the
        // full list is not kept past it.
        return new Map(readers.get(key)!.map((reader) => [reader, selectFor(reader, tags)] as const));
      });
      selected.set(key, p);
    }
    return p;
  };
  return Promise.all(
    entries.map(async (image): Promise<Expanded> => {
      try {
        if (image.tags && needsTagList(image.tags)) {
          const mine = (await selectionOf(image)).get(image)!;
          if (mine instanceof Error) throw mine;
          return { image, work: syncUnits(image, mine.kept).map((unit) => ({ image, unit })), listed: mine.listed };
        }
        const tags = image.tags ? selectTags([], image.tags) : [];
        return { image, work: syncUnits(image, tags).map((unit) => ({ image, unit })) };
      } catch (err) {
        return { image, error: asRegpushError(err) };
      }
    }),
  );
}

/** The tags an entry's filter kept, of how many it chose from. */
interface Selection {
  kept: string[];
  listed: number;
}

/** The tags `image`'s filter keeps of its source's list, or why it cannot say (a filter that does not compile). */
function selectFor(image: SyncImage, listed: readonly string[]): Selection | RegpushError {
  try {
    // With referrers, the fallback and cosign tags come with the images they refer to (isReferrerTag).
    const available = image.referrers ? listed.filter((t) => !isReferrerTag(t)) : listed;
    return { kept: selectTags(available, image.tags!), listed: new Set(available).size };
  } catch (err) {
    return asRegpushError(err);
  }
}
