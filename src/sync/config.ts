/**
 * The sync file (`regpush sync FILE`): YAML or JSON text in, a checked SyncSpec out, with every
 * default applied per image. Pure: the caller reads the file. Every mistake is one E_INPUT line
 * naming the file, the entry and the key, so a bad file fails before any request is sent.
 * docs/sync.md is the reference for the format; keep the two in step.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, YAMLParseError, type Document } from 'yaml';
import { InputError, UsageError } from '../errors.js';
import { STRINGS, type Shape } from '../options-check.js';
import type { ConnectionNames } from '../option-names.js';
import { formatReference, repositoryName, withTag, type ImageReference } from '../ref/reference.js';
import { jsonMistake } from '../json-check.js';
import {
  canonicalPlatforms,
  emptyFilterProblem,
  newestProblem,
  parsedPrefix,
  parsedReference,
  prefixTargetProblem,
  referenceTargetProblem,
  regexProblem,
  semverProblem,
  shardByProblem,
  tagListProblem,
  tagsPresenceProblem,
  tagValueProblem,
  type ShardBy,
} from './rules.js';
import { copyKey, formatTargetPrefix, targetReference } from './target.js';
import type { SyncDestination, SyncImage, SyncSpec, TagFilter, TagRule, TargetPrefix } from './options.js';

/** A reference as parseSyncFile gives it (ImageReference). */
const REFERENCE_SHAPE: Shape = { fields: { registry: 'string', repository: 'string', tag: 'string', digest: 'string' }, required: ['registry', 'repository'] };

/**
 * SyncSpec as sync() takes it: what parseSyncFile returns, each entry checked, defaulted and
 * normalised (SyncImage), checked by sync() as any option is (options-check.ts). A hand-made spec
 * of the same shape passes; the sync file's own keys do not (rawSyncSpec says so first).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const SYNC_SPEC_SHAPE: Shape = {
  fields: {
    file: 'string',
    images: {
      list: {
        fields: {
          index: 'whole',
          label: 'string',
          key: 'string',
          source: REFERENCE_SHAPE,
          tags: {
            anyOf: [
              { fields: { kind: { literal: ['list'] }, tags: STRINGS }, required: ['kind', 'tags'] },
              { fields: { kind: { literal: ['all'] } }, required: ['kind'] },
              { fields: { kind: { literal: ['filter'] }, regex: 'string', semver: 'string', newest: 'whole', prerelease: 'boolean' }, required: ['kind', 'prerelease'] },
            ],
          },
          pinnedTag: 'string',
          destinations: {
            list: {
              anyOf: [
                { fields: { kind: { literal: ['prefix'] }, prefix: { fields: { registry: 'string', path: 'string' }, required: ['registry', 'path'] } }, required: ['kind', 'prefix'] },
                { fields: { kind: { literal: ['reference'] }, ref: REFERENCE_SHAPE }, required: ['kind', 'ref'] },
              ],
            },
          },
          platforms: { anyOf: [{ literal: ['all'] }, STRINGS] },
          referrers: 'boolean',
          // Its value is checked by checkSpecValues, whose message shows what was given.
          shard: 'string',
        },
        required: ['index', 'label', 'key', 'source', 'destinations', 'platforms', 'referrers'],
      },
    },
  },
  required: ['file', 'images'],
};

/**
 * What shows that `spec` is a sync file's content as written (`{ images: [{ source: 'reg/app',
 * tags: [...], targets: [...] }] }`), not what parseSyncFile makes of it: the file's `defaults`, or
 * an entry with `source` as a string or a `target`/`targets` key. Undefined for anything else
 * (SYNC_SPEC_SHAPE then says what is wrong, if anything). Such a spec once passed the check and
 * failed inside sync() with E_INTERNAL "Cannot read properties of undefined".
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function rawSyncSpec(spec: unknown): string | undefined {
  if (!isObject(spec)) return undefined;
  if (Object.hasOwn(spec, 'defaults')) return 'spec has "defaults"';
  const images = Array.isArray(spec.images) ? spec.images : [];
  for (const [i, e] of images.entries()) {
    if (!isObject(e)) continue;
    const own = [...(typeof e.source === 'string' ? ['"source" as a string'] : []), ...['target', 'targets'].filter((k) => Object.hasOwn(e, k)).map((k) => `"${k}"`)];
    if (own.length) return `spec.images[${i}] has ${own.join(' and ')}`;
  }
  return undefined;
}

/** Image keys that `defaults` may set too. */
const DEFAULT_KEYS = ['targets', 'platforms', 'referrers', 'shard'] as const;
/** Keys of one `images` entry. */
const IMAGE_KEYS = ['source', 'tags', 'targets', 'target', 'platforms', 'referrers', 'shard'] as const;
const TOP_KEYS = ['defaults', 'images'] as const;
const FILTER_KEYS = ['regex', 'semver', 'newest', 'prerelease'] as const;

/** Values `defaults` gives an image that does not set the key itself. */
const BUILT_IN = { platforms: 'all' as const, referrers: false, shard: 'repository' as const };

/** What to give for a missing `tags`, and the other rules beside a list, as a file spells them. */
const FILE_TAG_CHOICES = 'a list of tags, "all", or a filter {regex, semver, newest} (or write the tag in "source")';
const FILE_NOT_A_LIST = '"all", or a filter';
/** "all" alone, as a file writes it. */
const FILE_ALL_PLATFORMS = '`platforms: all`';

type Raw = Record<string, unknown>;

/**
 * Where a value stands in the file: the line, from 1, of the key (or list item) at `path`, or of
 * the nearest one above it the file has (an entry's line for a key it lacks); undefined where
 * the file has none of them.
 */
type KeyLine = (path: readonly (string | number)[]) => number | undefined;

/**
 * The path in the file of the value a message names: `entry` is `images[i] (…)` (or none, for the
 * file's top level), `key` as messages spell it (`tags.regex`, `targets[1]`; `defaults.…` is the
 * defaults', whichever entry it is said of).
 */
function valuePath(entry: string | undefined, key: string | undefined): (string | number)[] {
  const steps = (key ?? '').split(/\.|(?=\[)/).flatMap((part): (string | number)[] => {
    const item = /^\[(\d+)\]$/.exec(part);
    return item ? [Number(item[1])] : part === '' ? [] : [part];
  });
  if (steps[0] === 'defaults') return steps;
  const index = entry === undefined ? undefined : /^images\[(\d+)\]/.exec(entry)?.[1];
  return index === undefined ? steps : ['images', Number(index), ...steps];
}

/** Builds errors that all start "<file>: <entry>: "; `names` word a reference's plain-HTTP advice (parseReferenceAs). */
class Problems {
  constructor(
    readonly file: string,
    readonly lineOf: KeyLine = () => undefined,
    readonly names?: ConnectionNames,
    /** The file is JSON, whose numbers are typed as written (YAML's are read as text, readYaml). */
    readonly json = false,
  ) {}
  at(entry: string | undefined, key: string | undefined, why: string): InputError {
    // Every message names the line, not only an unknown key's: in a file of 300 entries "images[212]"
    // or "defaults.targets[0]" alone leaves the reader counting.
    const line = this.lineOf(valuePath(entry, key));
    const where = [this.file, entry, key === undefined ? undefined : `"${key}"`].filter((x) => x !== undefined).join(': ');
    return new InputError(`${where}${line === undefined ? '' : ` (line ${line})`} ${why}`, { details: { file: this.file, entry, key, ...(line === undefined ? {} : { line }) } });
  }
  /** Throws at(entry, key, why) where a rule (rules.ts) found a problem. */
  check(entry: string | undefined, key: string, why: string | undefined): void {
    if (why !== undefined) throw this.at(entry, key, why);
  }
}

/**
 * Parses and checks a sync file. `fileName` names the file in messages; a name ending in ".json"
 * is read as JSON (exact error positions), anything else as YAML 1.2.
 */
export function parseSyncFile(text: string, fileName: string): SyncSpec {
  return parseSyncFileAs(text, fileName, undefined);
}

/**
 * parseSyncFile for a caller whose plain-HTTP setting has another name (the CLI's
 * --insecure-registry): `names` word the advice for an `http://` reference.
 * @internal
 */
export function parseSyncFileAs(text: string, fileName: string, names: ConnectionNames | undefined): SyncSpec {
  // A plain-JS caller's wrong types: E_USAGE, as every operation's options are checked.
  if (typeof text !== 'string' || typeof fileName !== 'string') {
    throw new UsageError(
      `parseSyncFile(): text and fileName must be strings (got ${typeof text === 'string' ? 'a string' : text === null ? 'null' : typeof text}, ` +
        `${typeof fileName === 'string' ? 'a string' : fileName === null ? 'null' : typeof fileName})`,
    );
  }
  const json = /\.json$/i.test(fileName);
  const { data, lineOf } = json ? readJson(text, fileName) : readYaml(text, fileName);
  const p = new Problems(fileName, lineOf, names, json);
  if (!isObject(data)) throw new InputError(`${fileName}: a sync file is a mapping with an "images" list (and optional "defaults")`, { details: { file: fileName } });
  unknownKeys(p, data, TOP_KEYS, undefined, []);
  const defaults = data.defaults === undefined || data.defaults === null ? {} : data.defaults;
  if (!isObject(defaults)) throw p.at(undefined, 'defaults', 'must be a mapping of targets, platforms, referrers, shard');
  unknownKeys(p, defaults, DEFAULT_KEYS, undefined, ['defaults']);
  const base = {
    targets: defaults.targets === undefined ? undefined : targetPrefixes(p, undefined, 'defaults.targets', defaults.targets),
    platforms: defaults.platforms === undefined ? BUILT_IN.platforms : platforms(p, 'defaults.platforms', defaults.platforms),
    referrers: defaults.referrers === undefined ? BUILT_IN.referrers : bool(p, undefined, 'defaults.referrers', defaults.referrers),
    shard: defaults.shard === undefined ? BUILT_IN.shard : shardBy(p, undefined, 'defaults.shard', defaults.shard),
  };
  if (data.images === undefined || data.images === null) throw p.at(undefined, 'images', 'is missing: list the images to sync');
  if (!Array.isArray(data.images)) throw p.at(undefined, 'images', 'must be a list of entries, each with a "source"');
  if (data.images.length === 0) throw p.at(undefined, 'images', 'is empty: list at least one image');
  const images = data.images.map((raw, i) => image(p, raw, i, base));
  checkRepeats(p, images);
  checkCollisions(p, images);
  return { file: fileName, images };
}

function readJson(text: string, file: string): { data: unknown; lineOf: KeyLine } {
  // Editors on Windows (Notepad, PowerShell's Out-File) start UTF-8 files with a byte order mark,
  // which JSON.parse refuses as an unexpected token.
  const body = text.replace(/^\uFEFF/, '');
  const mistake = jsonMistake(body);
  if (mistake) throw new InputError(`${file}: not valid JSON${mistake}`, { details: { file } });
  // Valid JSON is YAML 1.2 too: the YAML reading of the same text tells where each key stands.
  const lines = new LineCounter();
  const doc = parseDocument(body, { lineCounter: lines });
  return { data: JSON.parse(body), lineOf: doc.errors.length ? () => undefined : keyLine(doc, lines) };
}

/**
 * YAML 1.2 core schema without its number types: every plain scalar that is not true/false/null
 * stays the string it was written as, so `tags: [1.20]` means tag "1.20" and not the number 1.2
 * (the classic YAML trap for version tags). `newest` accepts such a digit string.
 */
function readYaml(text: string, file: string): { data: unknown; lineOf: KeyLine } {
  try {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, customTags: (tags) => tags.filter((t) => !/(^|:)(int|float)/.test(typeof t === 'string' ? t : t.tag)) });
    if (doc.errors.length) throw doc.errors[0];
    // The yaml package refuses more than 100 alias expansions by default, a guard against alias
    // bombs (each level multiplying the last) that also refuses a long file sharing one anchor
    // (`targets: *prod` in every entry). Bounded by the file's own length, the expansion stays
    // linear in what was written: a bomb still exceeds it, a shared anchor does not.
    return { data: doc.toJS({ maxAliasCount: Math.max(100, text.length) }), lineOf: keyLine(doc, lines) };
  } catch (err) {
    // The yaml package reports an alias to an anchor never set, and its guard against alias
    // expansion bombs, as ReferenceError: both are mistakes in the file.
    if (err instanceof ReferenceError) throw new InputError(`${file}: not valid YAML: ${err.message}`, { details: { file } });
    if (!(err instanceof YAMLParseError)) throw err;
    const pos = err.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const why = err.code === 'MULTIPLE_DOCS' ? 'a sync file holds one YAML document (remove the second "---")' : err.message.split(/ at line \d+, column \d+:/)[0]!.trim();
    throw new InputError(`${file}: not valid YAML${where}: ${why}`, { details: { file } });
  }
}

/** The line of the value at a path of `doc`, or of the nearest key or item above it (KeyLine). */
function keyLine(doc: Document, lines: LineCounter): KeyLine {
  return (path) => {
    let node: unknown = doc.contents;
    let offset: number | undefined;
    let aliased = false;
    for (const step of path) {
      // Past an alias the nodes stand where its anchor does: the line stays the alias's own.
      if (isAlias(node)) {
        node = node.resolve(doc);
        aliased = true;
      }
      let at: number | undefined;
      if (isMap(node) && typeof step === 'string') {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === step);
        if (!pair) break;
        at = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step];
        if (item === undefined) break;
        at = (item as { range?: [number, number, number] }).range?.[0];
        node = item;
      } else break;
      if (!aliased && at !== undefined) offset = at;
    }
    return offset === undefined ? undefined : lines.linePos(offset).line;
  };
}

/**
 * A key the format does not have: most often a typo (`tag:`, `target:` for `targets:`), so the
 * message names the line as well as the entry. `path` leads to `obj` in the file (its keys but the
 * first name the message's key: "defaults.target", "tags.regexp").
 */
function unknownKeys(p: Problems, obj: Raw, known: readonly string[], entry: string | undefined, path: readonly (string | number)[]): void {
  const prefix = path.filter((x): x is string => typeof x === 'string' && x !== 'images').map((x) => `${x}.`).join('');
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    // `<<` is YAML 1.1's merge key, which YAML 1.2 dropped: the file is read as 1.2 (readYaml).
    const merge = key === '<<' ? 'is a YAML merge key, which YAML 1.2 does not have and a sync file does not take: write the keys out, or share a value with an anchor (`targets: *prod`); ' : '';
    throw p.at(entry, `${prefix}${key}`, `${merge}is not a known key (known: ${known.join(', ')})`);
  }
}

/**
 * One `images` entry of a file, checked by checkedImage, the walk a library caller's SyncImage
 * takes too: each value is read from the mapping (its type checked, references and prefixes
 * parsed, the defaults applied) when the check comes to it, and the errors name the file's keys.
 */
function image(p: Problems, raw: unknown, i: number, base: { targets: TargetPrefix[] | undefined; platforms: 'all' | string[]; referrers: boolean; shard: ShardBy }): SyncImage {
  const entry0 = `images[${i}]`;
  if (!isObject(raw)) throw p.at(entry0, undefined, 'must be a mapping with at least a "source" (and "tags", unless the source names its tag or digest)');
  const written = raw.source;
  // A digest is cut to 12 hex characters in the label: enough to recognise, short enough to read.
  const label = typeof written === 'string' && written !== '' ? `${entry0} (${written.replace(/(@[a-z0-9]+:[a-f0-9]{12})[a-f0-9]{13,}$/, '$1…')})` : entry0;
  unknownKeys(p, raw, IMAGE_KEYS, label, ['images', i]);
  if (written === undefined || written === null) throw p.at(label, 'source', 'is missing: give the image to copy, e.g. docker.io/library/nginx');
  if (typeof written !== 'string') throw p.at(label, 'source', 'must be a string (an image reference)');
  const src = reference(p, label, 'source', written);
  const source: ImageReference = { registry: src.registry, repository: src.repository, ...(src.digest !== undefined ? { digest: src.digest } : {}) };
  const sourceTag = hasWrittenTag(written) ? src.tag : undefined;
  const pinnedTag = src.digest !== undefined ? sourceTag : undefined;

  // How a message names each destination, once they are read.
  let destinationKeys: string[] = [];
  const checked = checkedImage(
    {
      key: repositoryName(source),
      source,
      pinnedTag,
      tagsGiven: raw.tags !== undefined || (src.digest === undefined && sourceTag !== undefined),
      tags: () => {
        if (src.digest !== undefined) return undefined;
        if (raw.tags === undefined) return sourceTag === undefined ? undefined : { kind: 'list', tags: [sourceTag] };
        if (sourceTag !== undefined) throw p.at(label, 'tags', `cannot be used with a tag in "source" (":${sourceTag}"); give the tags in one place`);
        return tagRule(p, label, raw.tags, ['images', i]);
      },
      newestWritten: isObject(raw.tags) ? raw.tags.newest : undefined,
      destinations: () => {
        const read = imageDestinations(p, label, raw, base.targets, source, pinnedTag);
        destinationKeys = read.keys;
        return read.destinations;
      },
      shard: () => (raw.shard === undefined ? base.shard : raw.shard),
      platforms: () => (raw.platforms === undefined ? base.platforms : platformList(p, label, 'platforms', raw.platforms)),
      referrers: () => (raw.referrers === undefined ? base.referrers : bool(p, label, 'referrers', raw.referrers)),
    },
    fileVoice(p, label, () => destinationKeys),
  );
  // A prefix given twice (or in the entry and in defaults) is one destination.
  const seen = new Set<string>();
  const destinations = checked.destinations.filter((d) => {
    if (d.kind !== 'prefix') return true;
    const id = formatTargetPrefix(d.prefix);
    return !seen.has(id) && Boolean(seen.add(id));
  });
  return {
    index: i,
    label,
    key: repositoryName(checked.source),
    source: checked.source,
    ...(checked.tags !== undefined ? { tags: checked.tags } : {}),
    ...(pinnedTag !== undefined ? { pinnedTag } : {}),
    destinations,
    platforms: checked.platforms,
    referrers: checked.referrers,
    // Only 'tag' is written out: an entry without the key is shared out by repository, the default.
    ...(checked.shard === 'tag' ? { shard: checked.shard } : {}),
  };
}

/**
 * An entry's destinations as the file gives them: its one `target`, else its `targets` or the
 * defaults' (each prefix as often as written, so that an error names its position), with the key
 * that names each in a message. Their rules are checkedImage's.
 */
function imageDestinations(
  p: Problems,
  label: string,
  raw: Raw,
  /** The defaults' targets; undefined where the file has none. */
  defaultTargets: TargetPrefix[] | undefined,
  source: ImageReference,
  pinnedTag: string | undefined,
): { destinations: SyncDestination[]; keys: string[] } {
  if (raw.target !== undefined) {
    // Each value's type first, as for every optional key of an entry (a null "tags", "platforms"
    // or "referrers" is a wrong type too): `target: null` beside "targets" is a target of the
    // wrong type, not a second destination.
    if (typeof raw.target !== 'string') throw p.at(label, 'target', `must be a string (a full image reference, e.g. prod.example.com/acme/job:pinned)${raw.target === null ? ' (got null)' : ''}`);
    if (raw.targets !== undefined) {
      targetPrefixes(p, label, 'targets', raw.targets);
      throw p.at(label, 'target', 'cannot be combined with "targets" in one entry: "target" is the one full destination, "targets" are prefixes');
    }
    const ref = reference(p, label, 'target', raw.target);
    const out: ImageReference = { registry: ref.registry, repository: ref.repository };
    if (hasWrittenTag(raw.target)) out.tag = ref.tag!;
    if (ref.digest !== undefined) out.digest = ref.digest;
    return { destinations: [{ kind: 'reference', ref: out }], keys: ['target'] };
  }
  if (source.digest !== undefined && pinnedTag === undefined) {
    throw p.at(label, 'target', 'is missing: a source pinned by digest needs a full "target" with a tag, or the tag in "source" (repo:tag@sha256:…)');
  }
  const prefixes = raw.targets === undefined ? (defaultTargets ?? []) : targetPrefixes(p, label, 'targets', raw.targets);
  if (prefixes.length === 0) {
    // `targets: []` is written and empty, not missing: the message says which.
    if (raw.targets !== undefined) throw p.at(label, 'targets', 'is empty: give at least one registry prefix, or a full "target"');
    const none = defaultTargets === undefined ? '' : ' ("defaults.targets" is empty)';
    throw p.at(label, 'targets', `is missing${none}: give "targets" (here or in defaults) or a full "target"`);
  }
  return {
    destinations: prefixes.map((prefix) => ({ kind: 'prefix', prefix })),
    keys: prefixes.map((_, n) => (raw.targets === undefined ? `defaults.targets[${n}]` : `targets[${n}]`)),
  };
}

/** True when the reference as written has ":tag" (parseReference fills in "latest" otherwise). */
function hasWrittenTag(written: string): boolean {
  const name = written.split('@')[0]!;
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}

function reference(p: Problems, label: string, key: string, text: string): ImageReference {
  const r = parsedReference(text, p.names);
  if ('problem' in r) throw p.at(label, key, r.problem);
  return r.ref;
}

function targetPrefixes(p: Problems, entry: string | undefined, key: string, value: unknown): TargetPrefix[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw p.at(entry, key, 'must be a registry prefix or a list of them (e.g. [prod.example.com/mirror])');
  // Duplicates stay until the entry is checked (image drops them): an error about a later prefix
  // must name its position as written in the file.
  const out: TargetPrefix[] = [];
  list.forEach((item, n) => {
    if (typeof item !== 'string') throw p.at(entry, `${key}[${n}]`, 'must be a string (registry or registry/path)');
    const r = parsedPrefix(item, p.names);
    if ('problem' in r) throw p.at(entry, `${key}[${n}]`, r.problem);
    out.push(r.prefix);
  });
  return out;
}

/** `platforms` as the file may write it: "all", a list, or one comma-separated string. Its items are checked by canonicalPlatforms. */
function platformList(p: Problems, entry: string | undefined, key: string, value: unknown): 'all' | unknown[] {
  if (value === 'all') return 'all';
  const list: unknown = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(list)) throw p.at(entry, key, 'must be "all" or a list such as [linux/amd64, linux/arm64]');
  return list;
}

/** The defaults' `platforms`, checked where they are written (an entry's are checkedImage's). */
function platforms(p: Problems, key: string, value: unknown): 'all' | string[] {
  const list = platformList(p, undefined, key, value);
  if (list === 'all') return 'all';
  const r = canonicalPlatforms(list, FILE_ALL_PLATFORMS);
  if ('problem' in r) throw p.at(undefined, r.index === undefined ? key : `${key}[${r.index}]`, r.problem);
  return r.platforms;
}

function shardBy(p: Problems, entry: string | undefined, key: string, value: unknown): ShardBy {
  p.check(entry, key, shardByProblem(value));
  return value as ShardBy;
}

function bool(p: Problems, entry: string | undefined, key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw p.at(entry, key, `must be true or false (got ${JSON.stringify(value)})`);
  return value;
}

/** `tags` as the file writes it: "all", a list (or one tag), or a filter's mapping; the values as written, for checkedImage. */
function tagRule(p: Problems, label: string, value: unknown, at: readonly (string | number)[]): TagRule {
  if (value === 'all') return { kind: 'all' };
  if (typeof value === 'string' || Array.isArray(value)) {
    // Each item's type is checked with its value (checkedImage).
    return { kind: 'list', tags: typeof value === 'string' ? [value] : (value as string[]) };
  }
  if (!isObject(value)) throw p.at(label, 'tags', 'must be a list of tags, "all", or a filter {regex, semver, newest}');
  unknownKeys(p, value, FILTER_KEYS, label, [...at, 'tags']);
  // The values as written: checkedImage says what is wrong with them (a regex that is a number…).
  const rule: TagFilter = { kind: 'filter', prerelease: false };
  if (value.regex !== undefined) rule.regex = value.regex as string;
  if (value.semver !== undefined) rule.semver = value.semver as string;
  // A YAML digit string counts (readYaml keeps numbers as written). JSON types its values as
  // written: a string there is refused, as a number in its list of tags is.
  if (p.json && typeof value.newest === 'string') throw p.at(label, 'tags.newest', `must be a number (got the string ${JSON.stringify(value.newest)}; write it without quotes)`);
  if (value.newest !== undefined) rule.newest = (typeof value.newest === 'string' && /^\d+$/.test(value.newest) ? Number(value.newest) : value.newest) as number;
  if (value.prerelease !== undefined) rule.prerelease = value.prerelease as boolean;
  return rule;
}

/**
 * An entry that says exactly what an earlier one says (after defaults and spelling: `nginx` is
 * `docker.io/library/nginx`) is a copy-paste slip, or an edit made to the wrong one of two. It
 * would copy nothing more, and where its tags are listed at sync time (`all`, a filter) the
 * collision check below cannot see it: the sync would then say, per tag and target, that the
 * copy is made once by the other entry, a line for each. One line here says it instead.
 */
function checkRepeats(p: Problems, images: SyncImage[]): void {
  const first = new Map<string, SyncImage>();
  for (const img of images) {
    const { index: _index, label: _label, ...what } = img;
    const id = JSON.stringify(what);
    const earlier = first.get(id);
    if (earlier) throw p.at(img.label, undefined, `repeats ${earlier.label} (the same source, tags, targets, platforms and referrers): remove one of them`);
    first.set(id, img);
  }
}

/**
 * Two entries that would write the same target tag race each other; where the tags are known
 * before any request (tag lists, pinned digests), that is refused here. The targets are the ones
 * the sync writes (targetReference); targetClashes checks the listed tags the same way later.
 */
function checkCollisions(p: Problems, images: SyncImage[]): void {
  const writer = new Map<string, { label: string; copy: string }>();
  for (const img of images) {
    for (const dest of img.destinations) {
      for (const tag of knownTags(img)) {
        const target = formatReference(targetReference(dest, img.source, tag));
        // The same tag (or digest) of the same source with the same platforms and referrers is
        // the same copy, made once (the sync's sharedTargets): no race, so no clash.
        const copy = `${formatReference(tag === undefined || img.source.digest ? img.source : withTag(img.source, tag))} ${copyKey(img)}`;
        const other = writer.get(target);
        if (other !== undefined && other.label !== img.label && other.copy !== copy) throw p.at(img.label, undefined, `writes ${target}, which ${other.label} writes too`);
        if (!other) writer.set(target, { label: img.label, copy });
      }
    }
  }
}

/**
 * The tags an entry's targets get that the file alone tells: a list's tags; none for `all` and
 * filters (listed at sync time). A pinned source has one: the tag written in `source`
 * (`repo:tag@sha256:…`), or undefined for a bare `repo@sha256:…`. That entry's only destination
 * is then a `target` carrying its own tag (imageDestinations and checkedDestination refuse anything else), and
 * targetReference takes that tag when given none, so the entry still takes part in the check.
 */
function knownTags(img: SyncImage): readonly (string | undefined)[] {
  if (img.tags === undefined) return [img.pinnedTag];
  return img.tags.kind === 'list' ? img.tags.tags : [];
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A SyncSpec that passed SYNC_SPEC_SHAPE (sync()'s `spec`), its values checked as parseSyncFile
 * checks a file's: a hand-built spec of the right shape could otherwise sync nothing without a
 * word (no `tags` and no digest), write nowhere (`destinations: []`), or write to targets such as
 * `LOCALHOST:5000//hs//app`. What has one obvious canonical spelling is made canonical (a prefix's
 * case and slashes, platform names); anything else is one UsageError naming `<at>.images[i].<key>`.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function checkSpecValues(spec: SyncSpec, at: string): SyncSpec {
  if (spec.images.length === 0) throw new UsageError(`${at}.images is empty: give at least one image`);
  return {
    ...spec,
    images: spec.images.map((img, i) => {
      const checked = checkedImage(
        {
          key: img.key,
          source: img.source,
          pinnedTag: img.pinnedTag,
          tagsGiven: img.tags !== undefined,
          tags: () => img.tags,
          destinations: () => img.destinations,
          shard: () => img.shard,
          platforms: () => img.platforms,
          referrers: () => img.referrers,
        },
        libraryVoice(`${at}.images[${i}]`),
      );
      return { ...img, source: checked.source, tags: checked.tags, destinations: checked.destinations, platforms: checked.platforms };
    }),
  };
}

/**
 * An entry as checkedImage takes it: its source, and its other values each read when the check
 * comes to it, so that the first mistake in an entry is the one reported, whichever is read first.
 * A file's are read from its mapping (each value's type checked, references and prefixes parsed,
 * the defaults applied); a SyncImage's are taken as they are.
 */
interface EntryValues {
  key: string;
  source: ImageReference;
  pinnedTag: string | undefined;
  /** Whether the entry says which tags to copy (a file's tag in `source` does). */
  tagsGiven: boolean;
  tags(): TagRule | undefined;
  /** A filter's `newest` as written, for its message (a file's "0" is read as 0). */
  newestWritten?: unknown;
  destinations(): readonly SyncDestination[];
  shard(): unknown;
  platforms(): 'all' | readonly unknown[];
  referrers(): boolean;
}

/**
 * How checkedImage tells what it refuses: the error for a key (named as a SyncImage names it:
 * `tags.tags[0]`, `destinations[1].prefix`), and the advice that names the other choices as the
 * caller spells them.
 */
interface EntryVoice {
  at(key: string, why: string): Error;
  /** What to give for a missing `tags`. */
  tagChoices: string;
  /** The rules beside a list of tags. */
  notAList: string;
  /** The full destination to give where a prefix cannot take the source. */
  prefixInstead: string;
  /** "all" alone, as it is written. */
  allPlatforms: string;
}

/** A file's words: InputError naming the file, the entry and the key as the file spells it (`destinationKeys`: each destination's). */
function fileVoice(p: Problems, label: string, destinationKeys: () => readonly string[]): EntryVoice {
  const fileKey = (key: string): string => {
    if (key === 'tags.tags') return 'tags';
    if (key === 'destinations') return 'targets';
    const tag = /^tags\.tags(\[\d+\])$/.exec(key);
    if (tag) return `tags${tag[1]}`;
    const dest = /^destinations\[(\d+)\]/.exec(key);
    return dest ? destinationKeys()[Number(dest[1])]! : key;
  };
  return {
    at: (key, why) => p.at(label, fileKey(key), why),
    tagChoices: FILE_TAG_CHOICES,
    notAList: FILE_NOT_A_LIST,
    prefixInstead: 'give this entry a full "target" instead',
    allPlatforms: FILE_ALL_PLATFORMS,
  };
}

/** A library caller's words: UsageError naming `<at>.<key>`, the choices as a SyncImage spells them. */
function libraryVoice(at: string): EntryVoice {
  return {
    at: (key, why) => new UsageError(`${at}.${key} ${why}`),
    tagChoices: "{ kind: 'list', tags: [...] }, { kind: 'all' } or a filter (only a source pinned by digest has none)",
    notAList: "{ kind: 'all' }, or a filter",
    prefixInstead: 'use a reference destination instead',
    allPlatforms: "`platforms: 'all'`",
  };
}

/**
 * The value rules of one entry (rules.ts), in one walk for a file's entry and a library caller's
 * SyncImage alike; `v` words the errors for either. Returns the values in their canonical
 * spelling: the source, a list's tags once each, the prefixes, the platforms. A library caller's
 * value types were checked by SYNC_SPEC_SHAPE before; a file's are checked here, in turn with the
 * values, so that the first mistake as written is the one reported.
 */
function checkedImage(
  img: EntryValues,
  v: EntryVoice,
): { source: ImageReference; tags: TagRule | undefined; destinations: SyncDestination[]; shard: ShardBy | undefined; platforms: 'all' | string[]; referrers: boolean } {
  const check = (key: string, why: string | undefined): void => {
    if (why !== undefined) throw v.at(key, why);
  };
  check(
    'source',
    img.source.tag === undefined
      ? undefined
      : `carries a tag (${JSON.stringify(img.source.tag)}): a SyncImage's source never does; ` +
          'give the tags in "tags" (or, for a source pinned by digest, in "pinnedTag")',
  );
  const parsed = parsedReference(`${img.source.registry}/${img.source.repository}${img.source.digest === undefined ? '' : `@${img.source.digest}`}`, undefined);
  if ('problem' in parsed) throw v.at('source', parsed.problem);
  const source: ImageReference = { registry: parsed.ref.registry, repository: parsed.ref.repository, ...(parsed.ref.digest !== undefined ? { digest: parsed.ref.digest } : {}) };
  if (img.key !== repositoryName(source)) check('key', `must be the source repository, ${JSON.stringify(repositoryName(source))} (the shard key; got ${JSON.stringify(img.key)})`);
  const pinned = source.digest !== undefined;
  check('tags', tagsPresenceProblem(pinned, img.tagsGiven, v.tagChoices));
  if (img.pinnedTag !== undefined) {
    check('pinnedTag', pinned ? tagValueProblem(img.pinnedTag) : 'is for a source pinned by digest only (give the tags in "tags")');
  }
  let tags = img.tags();
  if (tags?.kind === 'list') {
    check('tags.tags', tagListProblem(tags.tags, v.notAList));
    tags.tags.forEach((t: unknown, n) => {
      // A JSON number has already lost what a version tag needs (1.20 is read as 1.2): the hint
      // must not suggest the shortened spelling.
      if (typeof t === 'number') throw v.at(`tags.tags[${n}]`, `is the number ${String(t)}: write the tag in quotes, exactly as the registry names it (e.g. "1.20", not 1.20)`);
      if (typeof t !== 'string') throw v.at(`tags.tags[${n}]`, `must be a string (got ${JSON.stringify(t)}; write the tag in quotes)`);
      check(`tags.tags[${n}]`, tagValueProblem(t));
    });
    // A tag listed twice is one unit.
    tags = { ...tags, tags: [...new Set(tags.tags)] };
  } else if (tags?.kind === 'filter') {
    const f = tags;
    if (f.regex !== undefined) check('tags.regex', regexProblem(f.regex));
    if (f.semver !== undefined) check('tags.semver', semverProblem(f.semver));
    if (f.newest !== undefined) check('tags.newest', newestProblem(f.newest, img.newestWritten ?? f.newest));
    check('tags.prerelease', typeof f.prerelease === 'boolean' ? undefined : `must be true or false (got ${JSON.stringify(f.prerelease)})`);
    check('tags', emptyFilterProblem(f));
  }
  const given = img.destinations();
  check('destinations', given.length === 0 ? 'is empty: give at least one destination' : undefined);
  // Destinations that make one target (spelt apart, or a prefix and the reference it gives) are
  // written once: syncUnits keeps the first of each unit's targets.
  const destinations = given.map((d, n) => checkedDestination(d, { tags, pinnedTag: img.pinnedTag }, source, `destinations[${n}]`, v));
  const shard = img.shard();
  if (shard !== undefined) check('shard', shardByProblem(shard));
  const written = img.platforms();
  let platforms: 'all' | string[] = 'all';
  if (written !== 'all') {
    const r = canonicalPlatforms(written, v.allPlatforms);
    if ('problem' in r) throw v.at(r.index === undefined ? 'platforms' : `platforms[${r.index}]`, r.problem);
    platforms = r.platforms;
  }
  return { source, tags, destinations, shard: shard as ShardBy | undefined, platforms, referrers: img.referrers() };
}

/** One destination of an entry (`at`: `destinations[n]`), checked; a prefix made canonical. */
function checkedDestination(d: SyncDestination, img: { tags: TagRule | undefined; pinnedTag: string | undefined }, source: ImageReference, at: string, v: EntryVoice): SyncDestination {
  const check = (key: string, why: string | undefined): void => {
    if (why !== undefined) throw v.at(`${at}${key}`, why);
  };
  if (d.kind === 'reference') {
    const parsed = parsedReference(`${d.ref.registry}/${d.ref.repository}`, undefined);
    if ('problem' in parsed) throw v.at(`${at}.ref`, parsed.problem);
    const out: ImageReference = { registry: parsed.ref.registry, repository: parsed.ref.repository };
    if (d.ref.tag !== undefined) {
      check('.ref.tag', tagValueProblem(d.ref.tag));
      out.tag = d.ref.tag;
    }
    check('.ref', referenceTargetProblem(d.ref.digest === undefined ? out : { ...out, digest: d.ref.digest }, { source, tags: img.tags, pinnedTag: img.pinnedTag }));
    return { kind: 'reference', ref: out };
  }
  check('', source.digest !== undefined && img.pinnedTag === undefined ? 'is a prefix, but a source pinned by digest without "pinnedTag" needs a reference with a tag' : undefined);
  // Slashes around the path and the registry's case have one canonical spelling (TargetPrefix).
  const path = d.prefix.path.replace(/^\/+|\/+$/g, '');
  const parsed = parsedPrefix(path === '' ? d.prefix.registry : `${d.prefix.registry}/${path}`, undefined);
  if ('problem' in parsed) throw v.at(`${at}.prefix`, parsed.problem);
  check('.prefix', prefixTargetProblem(parsed.prefix, source, v.prefixInstead));
  return { kind: 'prefix', prefix: parsed.prefix };
}
