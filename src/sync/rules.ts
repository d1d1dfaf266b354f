/**
 * The value rules of a sync entry, written once for the two ways a SyncSpec is made: a sync file
 * (config.ts parseSyncFile, whose errors name the file, the entry and its key) and a spec built in
 * code (config.ts checkSpecValues, whose errors name `sync(): spec.images[i].key`). Each function
 * returns why a value is refused, worded to follow the key's name ("<key> <problem>"), or
 * undefined; the caller puts its own location in front. Where the file and the library spell a
 * choice differently (a key of the file, a field of SyncImage), the advice is a parameter. Pure.
 */
import semver from 'semver';
import { RegpushError } from '../errors.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { ConnectionNames } from '../option-names.js';
import { tagProblem } from '../ref/grammar.js';
import { formatReference, parseReference, parseReferenceAs, repositoryName, type ImageReference } from '../ref/reference.js';
import { isDockerHub } from '../ref/registry.js';
import { formatTargetPrefix, parseTargetPrefix, targetRepository } from './target.js';
import type { TagRule, TargetPrefix } from './options.js';

/** The values of `shard`: how --shard shares an entry out (SyncImage.shard). */
const SHARD_BY = ['repository', 'tag'] as const;
export type ShardBy = (typeof SHARD_BY)[number];

/** Why `value` is not a `shard` value. */
export function shardByProblem(value: unknown): string | undefined {
  if (SHARD_BY.includes(value as ShardBy)) return undefined;
  return `must be "repository" (--shard keeps all of the entry's tags in one shard, the default) or "tag" (its tags are shared out over the shards) (got ${JSON.stringify(value)})`;
}

/**
 * Why an entry's tag rule cannot be given (a source pinned by digest copies that digest) or cannot
 * be left out (any other source). `choices` words what to give, as the caller spells it.
 */
export function tagsPresenceProblem(pinned: boolean, given: boolean, choices: string): string | undefined {
  if (pinned && given) return 'cannot be used with a source pinned by digest (the digest is what is copied)';
  if (!pinned && !given) return `is missing: give ${choices}`;
  return undefined;
}

/** Why a list of tags to copy cannot be: it is empty. `others` words the other rules ("all" and a filter) as the caller spells them. */
export function tagListProblem(tags: readonly unknown[], others: string): string | undefined {
  return tags.length === 0 ? `is an empty list: give at least one tag, ${others}` : undefined;
}

/** Why `tag` (one to copy, a pinned source's, a target's) is not a tag. */
export function tagValueProblem(tag: string): string | undefined {
  const problem = tagProblem(tag);
  return problem === undefined ? undefined : `is not a valid tag: ${problem}`;
}

/** Why a filter's `regex` is not one. */
export function regexProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string (a JavaScript regular expression)';
  try {
    new RegExp(value);
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * Why a filter's `semver` is not a range. An empty or blank string is refused although the semver
 * package reads it as "*": a filter that keeps every version is `tags: all`, or a forgotten value.
 */
export function semverProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return 'must be a non-empty string (a semver range such as ">=2.0.0 <3.0.0")';
  if (semver.validRange(value) === null) return `is not a valid semver range: ${JSON.stringify(value)} (e.g. ">=2.0.0 <3.0.0", "^1.4", "~2.1.0")`;
  return undefined;
}

/** Why a filter's `newest` (`n`, read from `written`) is not a count of versions to keep. */
export function newestProblem(n: unknown, written: unknown = n): string | undefined {
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1) return undefined;
  return `must be a positive integer (got ${JSON.stringify(written)})`;
}

/** Why a filter selects nothing by itself: it has none of its rules. */
export function emptyFilterProblem(filter: { regex?: unknown; semver?: unknown; newest?: unknown }): string | undefined {
  if (filter.regex === undefined && filter.semver === undefined && filter.newest === undefined) return 'filter needs at least one of regex, semver, newest';
  return undefined;
}

/**
 * The canonical spelling of each platform in `list` (duplicates dropped), or the first problem:
 * at `index` for one item, at the key itself without. `allWord` shows how to write "all" alone.
 */
export function canonicalPlatforms(list: readonly unknown[], allWord: string): { platforms: string[] } | { problem: string; index?: number } {
  if (list.length === 0) return { problem: 'is empty: give "all" or at least one platform such as linux/amd64' };
  const platforms: string[] = [];
  for (const [index, item] of list.entries()) {
    if (typeof item !== 'string') return { problem: 'must be a string such as linux/amd64', index };
    if (item === 'all') return { problem: list.length === 1 ? `takes all as a word, not in a list: write ${allWord}` : '"all" cannot be mixed with single platforms' };
    try {
      const canonical = formatPlatform(parsePlatform(item));
      if (!platforms.includes(canonical)) platforms.push(canonical);
    } catch (err) {
      if (!(err instanceof RegpushError)) throw err;
      return { problem: `is invalid: ${err.message.replace(/^invalid platform /, '')}`, index };
    }
  }
  return { platforms };
}

/**
 * `text` read as an image reference, or why it is not one (the parser's reason without its
 * "invalid image reference"). `names` word the advice for an `http://` reference.
 */
export function parsedReference(text: string, names: ConnectionNames | undefined): { ref: ImageReference } | { problem: string } {
  try {
    return { ref: parseReferenceAs(text, names) };
  } catch (err) {
    if (!(err instanceof RegpushError)) throw err;
    return { problem: `is not a valid image reference: ${err.message.replace(/^invalid image reference /, '')}` };
  }
}

/** `text` read as a target prefix, or why it is not one. `names` word the advice for an `http://` prefix. */
export function parsedPrefix(text: string, names: ConnectionNames | undefined): { prefix: TargetPrefix } | { problem: string } {
  try {
    return { prefix: parseTargetPrefix(text, names) };
  } catch (err) {
    if (!(err instanceof RegpushError)) throw err;
    return { problem: `is not a valid target prefix (${JSON.stringify(text)}): ${err.message.replace(/^invalid target prefix "[^"]*": /, '')}` };
  }
}

/** What an entry copies, as a target's rules need it. */
export interface CopiedImage {
  source: ImageReference;
  tags: TagRule | undefined;
  pinnedTag: string | undefined;
}

/**
 * Why `target` (registry, repository and the tag and digest as written) cannot be an entry's one
 * full destination: a digest (targets are written by tag), a tag where several tags are copied
 * (they would overwrite each other), no tag for a source pinned by digest without one, or the
 * source repository itself.
 */
export function referenceTargetProblem(target: ImageReference, img: CopiedImage): string | undefined {
  if (target.digest !== undefined) return "must not carry a digest: the target is written by tag (the digest stays the source's)";
  const out: ImageReference = { registry: target.registry, repository: target.repository };
  if (target.tag !== undefined) {
    if (img.tags !== undefined && !(img.tags.kind === 'list' && img.tags.tags.length === 1)) {
      return 'may carry a tag only when exactly one tag is copied; drop the tag so each source tag keeps its name';
    }
  } else if (img.source.digest !== undefined && img.pinnedTag === undefined) {
    return `needs a tag for a source pinned by digest (e.g. ${formatReference({ ...out, tag: 'pinned' })})`;
  }
  if (repositoryName(out) === repositoryName(img.source)) return 'is the source repository itself';
  return undefined;
}

/** Registries whose repository names have exactly two parts (namespace/name). */
const TWO_PART_REGISTRIES: { name: string; is: (registry: string) => boolean }[] = [
  { name: 'Docker Hub', is: isDockerHub },
  { name: 'Quay.io', is: (r) => r === 'quay.io' },
];

/**
 * Why `prefix` cannot take `source`: the target repository it gives is not a valid name (a long
 * prefix and a long source path can pass the 255-character limit), is the source itself, or is
 * deeper than a two-part registry takes. `instead` words the full destination to use there.
 */
export function prefixTargetProblem(prefix: TargetPrefix, source: ImageReference, instead: string): string | undefined {
  const repo = targetRepository(prefix, source);
  try {
    parseReference(`${prefix.registry}/${repo}`);
  } catch (err) {
    if (!(err instanceof RegpushError)) throw err;
    return `gives an invalid target for this source: ${err.message}`;
  }
  if (prefix.registry === source.registry && repo === source.repository) return `puts the image back onto its source (${formatTargetPrefix(prefix)})`;
  // Docker Hub and Quay take only namespace/name: a deeper name is refused at the first write
  // ("denied", which reads as a credentials problem: docker/hub-feedback#1404), so say it now.
  const flat = TWO_PART_REGISTRIES.find((r) => r.is(prefix.registry));
  if (flat && repo.split('/').length > 2) return `gives ${prefix.registry}/${repo}, but ${flat.name} repositories are namespace/name only; ${instead}`;
  return undefined;
}
