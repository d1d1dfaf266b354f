/**
 * Tag selection for one sync entry. Pure and deterministic: the same listed tags and rule give the
 * same tags in the same order, whatever order the registry listed them in.
 *
 * Versions: a tag takes part in `semver` and `newest` when node-semver parses it in loose mode,
 * i.e. MAJOR.MINOR.PATCH with an optional leading "v" and an optional pre-release ("v2.1.0",
 * "2.1.0-rc.1", "1.27.3-alpine"). Partial versions such as "1.27" or "3" and words such as
 * "latest" are not versions and are left out whenever `semver` or `newest` is given (select them
 * with a list or a regex). Pre-releases, which include Docker's variant suffixes like "-alpine",
 * are left out of both filters unless the rule sets `prerelease: true`.
 */
import semver from 'semver';
import { InputError } from '../errors.js';
import type { TagRule } from './options.js';

/** True when the rule needs the source's tag list; an explicit list is used as written. */
export function needsTagList(rule: TagRule): boolean {
  return rule.kind !== 'list';
}

/**
 * The tags `rule` selects from `available` (the source's tag list):
 * - list: the rule's tags as written, in their order (`available` is not consulted; a tag the
 *   source lacks fails when it is read);
 * - all: every available tag, in code-point order;
 * - filter: the tags passing every filter given; highest version first when `semver` or `newest`
 *   is set (equal versions such as "1.2.3" and "v1.2.3" in code-point order), else code-point
 *   order. `newest: N` keeps the first N of that order after the other filters.
 * Duplicates in `available` count once.
 */
export function selectTags(available: readonly string[], rule: TagRule): string[] {
  if (rule.kind === 'list') return [...rule.tags];
  const unique = [...new Set(available)].sort(byCodePoint);
  if (rule.kind === 'all') return unique;

  let kept = unique;
  if (rule.regex !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(rule.regex);
    } catch (err) {
      throw new InputError(`invalid tag regex ${JSON.stringify(rule.regex)}: ${(err as Error).message}`);
    }
    kept = kept.filter((t) => re.test(t));
  }
  if (rule.semver === undefined && rule.newest === undefined) return kept;

  if (rule.semver !== undefined && semver.validRange(rule.semver) === null) throw new InputError(`invalid semver range ${JSON.stringify(rule.semver)}`);
  const opts = { loose: true, includePrerelease: rule.prerelease };
  let versions = kept
    .map((tag) => ({ tag, version: tagVersion(tag) }))
    .filter((x): x is { tag: string; version: semver.SemVer } => x.version !== undefined && (rule.prerelease || x.version.prerelease.length === 0));
  if (rule.semver !== undefined) versions = versions.filter((x) => semver.satisfies(x.version, rule.semver!, opts));
  versions.sort((a, b) => semver.rcompare(a.version, b.version) || byCodePoint(a.tag, b.tag));
  if (rule.newest !== undefined) versions = versions.slice(0, rule.newest);
  return versions.map((x) => x.tag);
}

/**
 * The version a tag names ("v1.2.3" is 1.2.3), or undefined when it is not one. Strict, as
 * docs/sync.md states the rule: node-semver's loose parse would also take `2024.01.0` (leading
 * zeros) and `1.2.4rc1` (a pre-release without its hyphen), and count `1.02.3` as `1.2.3`.
 */
export function tagVersion(tag: string): semver.SemVer | undefined {
  return semver.parse(tag) ?? undefined;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
