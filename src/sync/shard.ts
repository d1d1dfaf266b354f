/**
 * Sharding a sync across processes: `--shard I/N` keeps the images whose key hashes to shard I
 * of N, so N machines (a Kubernetes Indexed Job, a CI matrix) split one file without talking to
 * each other.
 *
 * The hash is rendezvous (highest-random-weight) hashing: each shard j scores a key with the
 * first 64 bits of sha256("j" NUL key) and the highest score wins. So each key is in exactly one
 * shard; a key's shard depends only on the key and N, never on the rest of the file (adding or
 * removing images moves no other image); and going from N to N+1 shards moves only the ~1/(N+1)
 * of the keys that the new shard wins, all of them into it. Indexes count from 0, like
 * JOB_COMPLETION_INDEX. Pure: the environment is passed in.
 *
 * An entry with `shard: tag` (one repository of thousands of tags) is listed by every shard, and
 * its units (one tag or digest each) are shared out by the same hash of `<key>:<tag>` (a pinned
 * source: `<key>@<digest>`): the tag selection runs over the whole list in every shard, so every
 * shard splits the same set, and each unit lands in exactly one shard.
 */
import { createHash } from 'node:crypto';
import { InputError, UsageError } from '../errors.js';
import { optionPaths, type OptionNames } from '../option-names.js';
import type { ImageReference } from '../ref/reference.js';
import { destinationRepository, type UnitSource } from './target.js';
import type { Shard, SyncImage } from './options.js';

/**
 * Upper bound on N: far above any useful fan-out, low enough that scoring stays cheap.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
const MAX_SHARDS = 1000;

/** What parseShard's messages call its value for a library caller. */
const PARSE_SHARD_NAMES = optionPaths('parseShard()');

/**
 * The variable a Kubernetes Indexed Job sets to the pod's completion index.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
const SHARD_INDEX_ENV = 'JOB_COMPLETION_INDEX';

/**
 * Parses a shard's text, as `--shard` takes it: "I/N", or "/N" to take I from JOB_COMPLETION_INDEX
 * in `env` (default: none; pass `process.env` to read the process's). Throws UsageError (E_USAGE)
 * saying what is wrong, or InputError (E_INPUT) where "/N" meets a JOB_COMPLETION_INDEX that is
 * not set (or empty), no whole number, or past the shard count: the environment's mistake, not the caller's.
 */
export function parseShard(text: string, env: Readonly<Record<string, string | undefined>> = {}): Shard {
  return parseShardAs(text, env, PARSE_SHARD_NAMES);
}

/**
 * parseShard with its messages naming the value as `names` says: the CLI's `--shard` (sync's
 * flagNames). Not part of the library's surface.
 * @internal
 */
export function parseShardAs(text: string, env: Readonly<Record<string, string | undefined>>, names: OptionNames): Shard {
  const shard = names.name('shard');
  // A plain-JS caller's wrong types: E_USAGE, not a TypeError from reading them.
  if (typeof text !== 'string') throw new UsageError(`invalid ${shard}: expected a string such as "0/3" (got ${text === null ? 'null' : typeof text})`);
  if (typeof env !== 'object' || env === null) throw new UsageError(`parseShard(): env must be an object of environment variables such as process.env (got ${env === null ? 'null' : typeof env})`);
  const m = /^\s*(\d*)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`invalid ${shard} ${JSON.stringify(text)}: expected I/N (e.g. 0/3), or /N to take I from ${SHARD_INDEX_ENV}`);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new UsageError(`invalid ${shard} ${JSON.stringify(text)}: the shard count must be 1 to ${MAX_SHARDS}`);
  let index: number;
  const fromFlag = m[1] !== '';
  if (fromFlag) {
    index = Number(m[1]);
  } else {
    const fromEnv = env[SHARD_INDEX_ENV];
    // Missing is the environment's mistake as a malformed value is (E_INPUT, not E_USAGE): `/N`
    // is written for a Kubernetes Indexed Job, and a pod started otherwise (a Job without
    // `completionMode: Indexed`) has no index; set but empty is said the same way.
    if (fromEnv === undefined || fromEnv === '') {
      throw new InputError(`${shard} ${JSON.stringify(text)} takes the index from ${SHARD_INDEX_ENV}, which is not set (give I/N instead)`);
    }
    if (!/^\d+$/.test(fromEnv.trim())) throw new InputError(`${SHARD_INDEX_ENV}=${JSON.stringify(fromEnv)} is not a shard index (a whole number from 0)`);
    index = Number(fromEnv.trim());
  }
  // An index the environment gave (a Kubernetes Indexed Job's completions above the shard count) is its mistake, E_INPUT, as a malformed one is.
  if (index >= count && !fromFlag) {
    throw new InputError(
      `${SHARD_INDEX_ENV}=${index} is out of range for ${shard} ${JSON.stringify(text)}: ${count} shard${count === 1 ? '' : 's'}, ` +
        `indexes 0 to ${count - 1} (the Job's completions must match the shard count)`,
    );
  }
  if (index >= count) {
    throw new UsageError(`invalid ${shard}: index ${index} is out of range for ${count} shard${count === 1 ? '' : 's'} (0 to ${count - 1}; indexes count from 0 like ${SHARD_INDEX_ENV})`);
  }
  return { index, count };
}

/**
 * The shard (0 to count-1) that `key` belongs to; `key` is SyncImage.key, the canonical source repository.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function shardOf(key: string, count: number): number {
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`invalid shard count ${count}`);
  let best = 0;
  let bestScore = -1n;
  for (let j = 0; j < count; j++) {
    const score = createHash('sha256').update(`${j}\0${key}`).digest().readBigUInt64BE(0);
    // Strictly greater: a tie (2^-64) goes to the lower index, so the result stays deterministic.
    if (score > bestScore) {
      best = j;
      bestScore = score;
    }
  }
  return best;
}

/** True when `key` is in `shard`. */
export function inShard(key: string, shard: Shard): boolean {
  return shardOf(key, shard.count) === shard.index;
}

/** What the placement of an entry and its units reads of it (SyncImage has these fields). */
type Placed = Pick<SyncImage, 'key' | 'shard'>;

/**
 * The key a unit is placed by: its entry's key (the source repository) for an entry shared out by
 * repository (the default); `<key>:<tag>`, or `<key>@<digest>` for a pinned source, under
 * `shard: tag`. `source` is the unit's source reference (SyncUnit.source).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function unitKey(image: Placed, source: ImageReference): string {
  if (image.shard !== 'tag') return image.key;
  return source.digest !== undefined ? `${image.key}@${source.digest}` : `${image.key}:${source.tag ?? ''}`;
}

/**
 * Whether `shard` lists `image` and expands it into units: the shard of its key, or every shard
 * for `shard: tag` (each then copies only the units whose unitKey is in it).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function listsEntry(image: Placed, shard: Shard): boolean {
  return image.shard === 'tag' || inShard(image.key, shard);
}

/**
 * An entry of another shard that this shard must list too (crossShardWriters), and its shard.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export interface Neighbour<T> {
  image: T;
  shard: number;
}

/**
 * The entries of other shards that write into a target repository some entry of `shard` writes
 * into, in file order. Two entries clash only on one target tag, so these are the only ones whose
 * tags can meet this shard's: listing them lets each shard run the clash check over every writer
 * of its target repositories, as one unsharded run would, without listing the whole file. A tag
 * list reads no manifest, and Docker Hub counts a pull per manifest request
 * (https://docs.docker.com/docker-hub/usage/pulls/), so this costs no pulls. The relation is symmetric: the shard of each neighbour finds this
 * shard's entries in turn, so both sides of a clash refuse it.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function crossShardWriters<T extends UnitSource & Placed>(images: readonly T[], shard: Shard): Neighbour<T>[] {
  // A `shard: tag` entry is listed by every shard (listsEntry): it is this shard's for the check, never a neighbour.
  const placed = images.map((image) => ({
    image,
    shard: shardOf(image.key, shard.count),
    listed: listsEntry(image, shard),
    repos: image.destinations.map((d) => destinationRepository(d, image.source)),
  }));
  const mine = new Set(placed.filter((p) => p.listed).flatMap((p) => p.repos));
  return placed.filter((p) => !p.listed && p.repos.some((r) => mine.has(r))).map(({ image, shard: s }) => ({ image, shard: s }));
}
