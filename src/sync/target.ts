/**
 * Where a synced image lands. The rule: `<prefix>/<source repository path>:<tag>`, so
 * docker.io/library/nginx:1.27 under prod.example.com/mirror becomes
 * prod.example.com/mirror/library/nginx:1.27; the source registry's name is dropped and the whole
 * repository path kept, so two sources only collide when their paths are equal. An explicit
 * `target` replaces the rule for its entry. Pure.
 */
import { InputError, InternalError, RegpushError } from '../errors.js';
import { formatReference, parseReference, repositoryName, withTag, type ImageReference } from '../ref/reference.js';
import { isDockerHub } from '../ref/registry.js';
import { isLoopbackHost } from '../ref/host-address.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import type { SyncDestination, TargetPrefix } from './options.js';

/** What syncUnits needs of a sync file entry (SyncImage in options.ts has these fields). */
export interface UnitSource {
  label: string;
  source: ImageReference;
  pinnedTag?: string;
  destinations: readonly SyncDestination[];
}

/** One manifest to copy: what to read and every reference to write it to. */
export interface SyncUnit {
  /** The source at one tag, or pinned by digest. */
  source: ImageReference;
  /** Full target references, each with a tag: one per distinct target of the image's destinations. */
  targets: ImageReference[];
}

/**
 * Parses "registry[:port][/path]" such as "prod.example.com/mirror", "localhost:5000" or
 * "docker.io/acme". The first component must be a host (it has a "." or ":", or is
 * "localhost"), because a prefix without one is ambiguous. Trailing "/" are ignored. Throws
 * InputError.
 */
export function parseTargetPrefix(text: string, names: ConnectionNames = connectionOptionNames): TargetPrefix {
  const fail = (why: string): never => {
    throw new InputError(`invalid target prefix ${JSON.stringify(text)}: ${why}`);
  };
  if (typeof text !== 'string' || text.trim() === '') fail('it is empty');
  // "http://reg:5000/mirror" would otherwise read as host "http:" and a path with a tag.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0];
  if (scheme) {
    const rest = text.slice(scheme.length).replace(/\/+$/, '');
    const host = rest.split('/')[0]!;
    const plain = scheme.toLowerCase() === 'http://' && host !== '' && !isLoopbackHost(host) ? ` and add ${names.insecure(host)} for plain HTTP` : '';
    fail(`a prefix has no scheme; drop "${scheme}"${plain} (${JSON.stringify(rest)})`);
  }
  const trimmed = text.replace(/\/+$/, '');
  if (trimmed.includes('@')) fail('a prefix has no digest (the rule appends the source path and tag)');
  const slash = trimmed.indexOf('/');
  const host = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const path = slash < 0 ? '' : trimmed.slice(slash + 1);
  // `targets` and `target` differ by a letter: a prefix with a tag is most often a `target` meant.
  if (path.includes(':')) fail(`a prefix has no tag (the rule appends the source path and tag); one exact destination with its own tag is written "target: ${trimmed}"`);
  if (!(host.includes('.') || host.includes(':') || host.toLowerCase() === 'localhost' || host.startsWith('['))) {
    fail(`it must start with a registry host ("${host}" is not one), e.g. prod.example.com/mirror, localhost:5000 or docker.io/acme`);
  }
  let ref: ImageReference;
  try {
    // A probe repository under the path: parseReference checks host, port and path components.
    // Under a path, the shortest name a target can add ("/x"), so that the length rule refuses
    // only a prefix no target fits under (a longer probe refused prefixes that real targets fit);
    // with no path, two components, which keep Docker Hub's "library/" rule away.
    ref = parseReference(path === '' ? `${host}/probe/x` : `${host}/${path}/x`);
  } catch (err) {
    if (err instanceof RegpushError) fail(err.message.replace(/^invalid image reference "[^"]*": /, ''));
    throw err;
  }
  return { registry: ref!.registry, path: path === '' ? '' : ref!.repository.replace(/\/x$/, '') };
}

/** "registry/path" or "registry". */
export function formatTargetPrefix(prefix: TargetPrefix): string {
  return prefix.path === '' ? prefix.registry : `${prefix.registry}/${prefix.path}`;
}

/**
 * The repository the rule gives under `prefix`: "<path>/<source repository>". At Docker Hub a
 * one-part name is an official image's, `library/<name>`, as everywhere else in regpush (a bare
 * `docker.io` prefix and `ghcr.io/nginx` give library/nginx, which `target: docker.io/nginx` names too).
 */
export function targetRepository(prefix: TargetPrefix, source: ImageReference): string {
  const repo = prefix.path === '' ? source.repository : `${prefix.path}/${source.repository}`;
  return isDockerHub(prefix.registry) && !repo.includes('/') ? `library/${repo}` : repo;
}

/**
 * The full target reference for one destination: the rule for a prefix, the explicit reference
 * otherwise (its own tag when it has one, else `tag`). `tag` may be undefined where the reference
 * carries a tag: a source pinned by a bare digest (`repo@sha256:…`) has no tag of its own, and its
 * `target` names the one tag it gets. Throws InternalError when no tag is known (the sync file
 * check refuses such entries first).
 */
export function targetReference(dest: SyncDestination, source: ImageReference, tag: string | undefined): ImageReference {
  if (dest.kind === 'reference') {
    const t = dest.ref.tag ?? tag;
    if (t === undefined) throw new InternalError(`no tag for target ${dest.ref.registry}/${dest.ref.repository}`);
    return withTag(dest.ref, t);
  }
  if (tag === undefined) throw new InternalError(`no tag for the targets of ${source.registry}/${source.repository}`);
  return withTag({ registry: dest.prefix.registry, repository: targetRepository(dest.prefix, source) }, tag);
}

/** The repository (`host/path`) a destination writes into, whatever the tag. */
export function destinationRepository(dest: SyncDestination, source: ImageReference): string {
  return dest.kind === 'reference' ? repositoryName(dest.ref) : `${dest.prefix.registry}/${targetRepository(dest.prefix, source)}`;
}

/**
 * What to copy for one image once its tags are chosen (selectTags): one unit per tag, each to
 * every destination; a pinned image is one unit whatever `tags` holds.
 */
export function syncUnits(image: UnitSource, tags: readonly string[]): SyncUnit[] {
  if (image.source.digest !== undefined) {
    return [{ source: image.source, targets: unitTargets(image, image.pinnedTag) }];
  }
  const renamed = image.destinations.some((d) => d.kind === 'reference' && d.ref.tag !== undefined);
  if (renamed && tags.length > 1) {
    throw new InternalError(`${image.label}: a target with a fixed tag cannot take ${tags.length} tags`);
  }
  return tags.map((tag) => ({
    source: withTag(image.source, tag),
    targets: unitTargets(image, tag),
  }));
}

/**
 * The targets of an image's destinations at `tag`, each once, the first kept. Destinations written
 * apart can make one target — a prefix and the reference it gives (`dst/m` and `dst/m/app` for
 * source `app`), a reference with and without the one tag copied (`dst/n`, `dst/n:1`) — which
 * would be written twice and reported twice; two equal targets in one unit's target set never finished.
 */
function unitTargets(image: UnitSource, tag: string | undefined): ImageReference[] {
  const byName = new Map<string, ImageReference>();
  for (const d of image.destinations) {
    const t = targetReference(d, image.source, tag);
    const name = formatReference(t);
    if (!byName.has(name)) byName.set(name, t);
  }
  return [...byName.values()];
}

/**
 * Units of different entries that would write the same target reference. parseSyncFile refuses
 * such entries where the tags are known from the file alone; for `all` and filters the tags are
 * known only once the sources are listed, so the sync checks again before writing anything: two
 * units landing on one tag would race, and which image the tag ends up naming would depend on
 * timing. Returns, for each unit involved (by its position in `units`), why it is refused; the
 * units of other targets go on. Under --shard the units carry their entry's shard ("1/3"), and
 * each message then names the unit's own entry and shard as well as the others': a clash between
 * shards is reported on two machines. Units that make the same copy (sameCopy) do not clash: the
 * target is written once (sharedTargets).
 */
export function targetClashes(units: readonly ClashCheck[]): Map<number, string> {
  const writers = new Map<string, number[]>();
  units.forEach((u, i) => {
    for (const t of u.unit.targets) {
      const key = formatReference(t);
      writers.set(key, [...(writers.get(key) ?? []), i]);
    }
  });
  const name = (j: number) => `${units[j]!.label} (${formatReference(units[j]!.unit.source)}${units[j]!.shard === undefined ? '' : `, shard ${units[j]!.shard}`})`;
  const out = new Map<number, string>();
  for (const [target, list] of writers) {
    if (new Set(list.map((i) => units[i]!.label)).size < 2) continue;
    if (sameCopy(list.map((i) => units[i]!))) continue;
    for (const i of list) {
      if (out.has(i)) continue;
      const others = list.filter((j) => j !== i).map(name);
      const self = units[i]!.shard === undefined ? '' : `${name(i)} `;
      out.set(i, `${self}would write ${target}, which ${others.join(' and ')} would write too; not copied: keep the entries' targets apart, or their tags from overlapping`);
    }
  }
  return out;
}

/** A unit as the clash checks see it. */
export interface ClashCheck {
  label: string;
  unit: SyncUnit;
  shard?: string;
  /**
   * What else decides the bytes a unit writes (its entry's platforms and referrers, copyKey): two
   * units of one source reference with equal keys write the same thing. Absent: never the same.
   */
  copy?: string;
}

/** The part of an entry that decides what its units write, besides the source reference. */
export function copyKey(image: { platforms: 'all' | readonly string[]; referrers: boolean }): string {
  return JSON.stringify([image.platforms === 'all' ? 'all' : [...image.platforms].sort(), image.referrers]);
}

/**
 * Whether every writer of one target makes the same copy: the same source reference, platforms and
 * referrers (a tag listed by one entry and picked by another's filter, both into one prefix).
 * Nothing can race then — each would write the same manifest — so it is no clash.
 */
function sameCopy(writers: readonly ClashCheck[]): boolean {
  const first = writers[0]!;
  if (first.copy === undefined) return false;
  return writers.every((w) => w.copy === first.copy && formatReference(w.unit.source) === formatReference(first.unit.source));
}

/**
 * For units of different entries that make the same copy into one target (sameCopy), the targets
 * every unit but the first leaves out: the copy is made once, by the entry that comes first.
 * Returns, by position in `units`, the targets (formatReference) to leave out, each with the label
 * of the entry that writes it.
 */
export function sharedTargets(units: readonly ClashCheck[]): Map<number, Map<string, string>> {
  const first = new Map<string, number>();
  const out = new Map<number, Map<string, string>>();
  units.forEach((u, i) => {
    for (const t of u.unit.targets) {
      const key = formatReference(t);
      const j = first.get(key);
      if (j === undefined) first.set(key, i);
      else if (units[j]!.label !== u.label && sameCopy([units[j]!, u])) out.set(i, (out.get(i) ?? new Map()).set(key, units[j]!.label));
    }
  });
  return out;
}
