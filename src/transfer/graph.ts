/**
 * What a copy must move: every manifest (children before parents, exact bytes) and every blob
 * they name. Reading this graph touches only small JSON; blobs are moved later, each once.
 */
import pLimit from 'p-limit';
import { NotFoundError, ProtocolError, UnsupportedError } from '../errors.js';
import { CONFIG_CAP } from '../http/response.js';
import { configPlatform, parseConfig } from '../image/config.js';
import { convertIndexTo, convertManifest, DroppedFields, type ConvertedChild } from '../image/convert.js';
import { buildIndex, serializeManifest } from '../image/build.js';
import { sha256Digest } from '../image/digest.js';
import { recordSubset } from '../image/subset.js';
import { artifactTypeOf, CHILD_MANIFEST_READS, checkIndexChildren, GraphBudget, parseManifest, type ParsedManifest } from '../image/manifest.js';
import { isForeignLayer, isImageConfigMediaType, isIndexMediaType, mediaFamily, type MediaFamily } from '../image/mediatypes.js';
import { formatPlatform, isAttestation, osVersionChoice, platformMatches, selectPlatform } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../image/types.js';
import type { Logger } from '../log.js';
import type { OptionNames } from '../option-names.js';
import type { FetchedManifest, RegistryClient } from '../registry/registry-client.js';


/**
 * Marks, in an error's details, that --platform or --format cannot apply to the image (it has no
 * such platform, is an image of another one, or is an artifact or has parts with no form in the
 * other family): `copy --all-tags` leaves such a tag out with a warning (a cosign signature tag in
 * a signed repository) instead of ending the copy on it.
 */
export const NOT_APPLICABLE = 'notApplicable';

function notApplicable<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof UnsupportedError) err.details[NOT_APPLICABLE] = true;
    throw err;
  }
}

/** One manifest to write, with its exact bytes. */
export interface ManifestNode {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Everything one source reference needs at a target. */
export interface CopyGraph {
  /** The top manifest (what tags point at). */
  top: ManifestNode;
  /** Child manifests, in the order they must be PUT (before the top). */
  children: ManifestNode[];
  /** Distinct blobs (configs and layers), foreign layers left out. */
  blobs: Descriptor[];
  /** True when a platform subset made a new index (the digest differs from the source's). */
  rewritten: boolean;
  /** Digest the source reference resolved to. */
  sourceDigest: string;
  /**
   * The source's digests of the child manifests written, in `children`'s order: the same digests
   * when nothing is converted; with --format, what each converted child was (attestations, which
   * conversion leaves out, are not listed). `--referrers` copies what refers to those of these
   * (and to the top) that were written under the same digest.
   */
  sourceChildren: string[];
  /** The mirror the top manifest was read from, when it was read through one. */
  sourceMirror?: string;
  /**
   * A platform subset's digest without the record of its source (image/subset.ts), as regpush
   * wrote it before keeping one: --no-clobber leaves a tag holding that be.
   */
  unrecorded?: string;
  /**
   * Every target already held `top` (GraphOptions.topHeld): the children were not read, so
   * `children` and `blobs` are empty and nothing is to be written from this graph;
   * `sourceChildren` still names the children the index keeps (under their own digests).
   */
  childrenUnread?: true;
}

/**
 * Told of the source manifest GETs a copy makes (Docker Hub counts each against its pull limit;
 * HEADs are free): `will(n)` before n reads are started or queued, `did()` as each is answered,
 * fails or is dropped unstarted. sync's pull-limit gate counts with it what the registry's last
 * count cannot show yet. Each GET itself goes out through `send`, which may hold it until the
 * count leaves room for it: the counts announced with `will` let a gate decide which images to
 * start, and `send` makes sure no GET spends the reserve when an image turned out dearer than it
 * looked (an index of four platforms after a file's one-platform images).
 */
export interface PullMeter {
  will(n: number): void;
  did(): void;
  send<T>(read: () => Promise<T>): Promise<T>;
}

/** `read` (a manifest GET at the source) sent through `pulls` when there is one. */
export function pull<T>(pulls: PullMeter | undefined, read: () => Promise<T>): Promise<T> {
  return pulls ? pulls.send(read) : read();
}

/** How readGraph reads (and rewrites) a graph. */
export interface GraphOptions {
  /** What the messages call the caller's options (`platform`, `format`): the library's paths, or the CLI's flags. */
  names: OptionNames;
  /** Keep only these platforms of an index (a new index, a new digest). */
  platforms?: Platform[];
  /** Convert every manifest to this family (new digests, same blobs). */
  format?: MediaFamily;
  /** Where conversion notes go. */
  log?: (msg: string) => void;
  /** Where conversion warnings go (data dropped that the other family has no place for). */
  warn?: (msg: string) => void;
  /** Told of each manifest GET. */
  pulls?: PullMeter;
  /**
   * Asked, for a platform subset without --format, once its new index is made and before its
   * children are read: true when every target that is not up to date already holds it. Its
   * children keep their digests, so the index is all a target must hold: the graph comes back
   * with them unread (`childrenUnread`). A Docker manifest list, which carries no record of its
   * source (image/subset.ts), then costs one pull on an unchanged re-run, not one more per child.
   */
  topHeld?: (top: ManifestNode) => Promise<boolean>;
}

/** The error for an index entry the registry answered 404 for: which entry of which index, and what to do. */
function missingChild(err: NotFoundError, child: Descriptor, index: string, names: OptionNames): NotFoundError {
  const what = child.platform ? `its ${formatPlatform(child.platform)} image` : 'an entry';
  return new NotFoundError(
    `${index} lists ${what} ${child.digest}, which the registry does not have (a broken index at the source${child.platform ? `; ${names.name('platform')} can leave that image out` : ''})`,
    { details: { ...err.details, digest: child.digest } },
  );
}

/**
 * Why the single image `manifest` (`name`) is not every one of `platforms` (its config read from
 * `repo` with `client`), or undefined when it is.
 */
export async function notThePlatform(client: RegistryClient, repo: string, manifest: ImageManifest, platforms: readonly Platform[], name: string): Promise<string | undefined> {
  return (await platformCheck(client, repo, manifest, platforms, name)).why;
}

/** A single image's config, read to learn its platform: its bytes, and what they parse to. */
interface ReadConfig {
  bytes: Buffer;
  config: ImageConfig;
}

/** notThePlatform(), with the config it read. */
async function platformCheck(client: RegistryClient, repo: string, manifest: ImageManifest, platforms: readonly Platform[], name: string): Promise<{ why?: string; read: ReadConfig }> {
  const bytes = await client.getBlobBytes(repo, manifest.config.digest, CONFIG_CAP);
  const what = `config ${manifest.config.digest} of ${name}`;
  const config = parseConfig(bytes, what);
  // Checked before they are compared or printed: a number where the os belongs is one error line.
  for (const field of ['os', 'architecture', 'variant', 'os.version'] as const) {
    const v: unknown = config[field];
    if (v !== undefined && typeof v !== 'string') throw new ProtocolError(`${what}: ${field} is not a string`);
  }
  const own = configPlatform(config);
  const missing = platforms.find((p) => !platformMatches(p, own));
  return { ...(missing ? { why: `${name} is a single ${formatPlatform(own)} image, not ${formatPlatform(missing)}` } : {}), read: { bytes, config } };
}

/**
 * The child of `index` (`name`) for `want` (selectPlatform), with a warning through `logger` where
 * it is one of images of several OS versions (osVersionChoice): a Windows host runs only its own.
 * The one pick of an index's child for a platform: pickPlatform's (inspect, digest), and push's for
 * its base (push/resolve.ts), which names the index as `base …`.
 */
export function platformChild(index: ImageIndex, want: Platform, name: string, logger: Logger): Descriptor {
  const child = selectPlatform(index, want);
  const choice = osVersionChoice(index, want);
  if (choice) logger.warn(`${name}: ${choice}`);
  return child;
}

/**
 * What one platform (`want`, a --platform) picks at `name`, whose top manifest `parsed` was read
 * from `repo`: the one resolver of inspect and digest, which picks as copy and push do. An index:
 * its child for `want` (platformChild). A single image: the image itself when its config says it is
 * `want`, returned with that config (read for the check) for a caller that shows it; an artifact
 * or an image of another platform is E_NOT_FOUND (describing or printing the digest of an amd64
 * image for linux/arm64 would answer another question).
 */
export async function pickPlatform(client: RegistryClient, repo: string, parsed: ParsedManifest, want: Platform, name: string): Promise<{ child: Descriptor } | { config: ReadConfig }> {
  if (parsed.kind === 'index') return { child: platformChild(parsed.index, want, name, client.logger) };
  const m = parsed.manifest;
  if (!isImageConfigMediaType(m.config.mediaType)) throw new NotFoundError(`${name} is an artifact (${artifactTypeOf(m)}), not a ${formatPlatform(want)} image`);
  const { why, read } = await platformCheck(client, repo, m, [want], name);
  if (why) throw new NotFoundError(why);
  return { config: read };
}

/** Deepest index nesting read. */
export const MAX_DEPTH = 4;

/**
 * Reads the graph of `ref` in `repo`; with `platforms`, keeps only those children in a new index;
 * with `format`, every manifest and index is converted to that family (new bytes, new digests,
 * the same blobs). `top` is the GET of `ref` when the caller has already sent it.
 */
export async function readGraph(client: RegistryClient, repo: string, ref: string, opts: GraphOptions, top?: Promise<FetchedManifest>): Promise<CopyGraph> {
  const { pulls } = opts;
  pulls?.will(1);
  // The top read is reported answered only once the children it leads to are announced: between
  // the two, a meter would see a multi-platform image as one pull, all of it done.
  let topOpen = pulls !== undefined;
  const topAnswered = (): void => {
    if (topOpen) {
      topOpen = false;
      pulls!.did();
    }
  };
  try {
    const fetched = await (top ?? pull(pulls, () => client.getManifest(repo, ref)));
    return await walkGraph(client, repo, fetched, opts, topAnswered);
  } finally {
    topAnswered();
  }
}

/** readGraph's walk from the top manifest `fetched`. */
async function walkGraph(client: RegistryClient, repo: string, fetched: FetchedManifest, opts: GraphOptions, topAnswered: () => void): Promise<CopyGraph> {
  const { platforms, format, log, warn, pulls, names } = opts;
  const blobs = new Map<string, Descriptor>();
  const children: ManifestNode[] = [];
  const seen = new Set<string>();
  const parsed = parseManifest(fetched.bytes, fetched.mediaType);
  let top: ManifestNode = { digest: fetched.digest, mediaType: parsed.mediaType, bytes: fetched.bytes };
  let rewritten = false;
  let unrecorded: string | undefined;
  const name = `${client.registry}/${repo}@${fetched.digest}`;
  // Every distinct child, at every nesting level, counts against one budget for the whole graph.
  const budget = new GraphBudget(name);
  /** Child manifests being read or read, by digest (each is read once, at whichever level lists it first). */
  const reads = new Map<string, ReturnType<RegistryClient['getManifest']>>();
  /**
   * The first failure of a child read or of the walk: once there is one, no further read starts,
   * and one that is not started fails with it. The walk may meet such a read before the failed one
   * (a nested index's children, read after a sibling further down the top index failed): the error
   * it reports is then still the real one.
   */
  let failure: { err: unknown } | undefined;
  if (parsed.kind === 'index') checkIndexChildren(parsed.index, name);

  async function visit(bytes: Buffer, mediaType: string, digest: string, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) throw new ProtocolError(`index nesting deeper than ${MAX_DEPTH} at ${digest}`);
    const p = parseManifest(bytes, mediaType);
    if (p.kind === 'image') {
      addBlob(p.manifest.config);
      for (const l of p.manifest.layers) if (!isForeignLayer(l)) addBlob(l);
      return;
    }
    checkIndexChildren(p.index, depth === 0 ? name : `${client.registry}/${repo}@${digest}`);
    // The children are read together (a few at a time, checkIndexChildren bounds how many) and
    // walked in the index's order: the order they are written in does not depend on
    // which answer came first.
    // An attestation has no Docker v2 form (convertNodes leaves it out): for --format docker it is
    // not read, and its blobs (an in-toto layer, its config) are not sent for nothing.
    const skipped = (d: Descriptor): boolean => format === 'docker' && isAttestation(d);
    try {
      prefetch(p.index.manifests.filter((d) => !seen.has(d.digest) && !skipped(d)), depth === 0 ? name : `${client.registry}/${repo}@${digest}`);
      for (const d of p.index.manifests) {
        if (seen.has(d.digest)) continue;
        seen.add(d.digest);
        // Said once, by the conversion that drops it from the index (convertIndexTo), with why.
        if (skipped(d)) continue;
        const child = await reads.get(d.digest)!; // prefetch() started every child not seen
        budget.hold(child.bytes.length);
        const cp = parseManifest(child.bytes, child.mediaType || d.mediaType);
        // Written under the digest the index names: getManifest checked the bytes against it,
        // and an index naming a child by sha512 finds nothing under its sha256.
        await visit(child.bytes, cp.mediaType, d.digest, depth + 1);
        children.push({ digest: d.digest, mediaType: cp.mediaType, bytes: child.bytes });
      }
    } catch (err) {
      failure ??= { err };
      throw err;
    }
  }
  /**
   * Counts `children` (those not read yet) of the index `of` against the graph's budget, then
   * starts reading them, CHILD_MANIFEST_READS at a time. None starts once a read or the walk has
   * failed: one not started fails with that first failure, so whichever read the walk meets
   * first, it reports that.
   */
  function prefetch(children: Descriptor[], of: string): void {
    const limit = pLimit(CHILD_MANIFEST_READS);
    const fresh = [...new Map(children.map((d) => [d.digest, d])).values()].filter((d) => !reads.has(d.digest));
    // Counted before any is read: past the budget, none of this index's children is fetched.
    for (const _ of fresh) budget.child();
    pulls?.will(fresh.length);
    topAnswered();
    for (const child of fresh) {
      const { digest } = child;
      const p = limit(async () => {
        try {
          if (failure) throw failure.err;
          return await pull(pulls, () => {
            // Asked again when sent: the pull-limit gate may have held this read while another failed.
            if (failure) throw failure.err;
            return client.getManifest(repo, digest);
          });
        } catch (err) {
          // A child the registry does not have: named as the index's entry it is, not by its digest
          // alone (the tag the user gave exists; "check the repository name and tag" would mislead).
          if (err instanceof NotFoundError && failure === undefined) err = missingChild(err, child, of, names);
          failure ??= { err }; // before the limiter hands the slot on
          throw err;
        } finally {
          pulls?.did();
        }
      });
      p.catch(() => undefined); // the walk awaits it and sees the error
      reads.set(digest, p);
    }
  }
  function addBlob(d: Descriptor) {
    if (!blobs.has(d.digest)) blobs.set(d.digest, d);
  }

  if (parsed.kind === 'image' && platforms && platforms.length) {
    // One image, not an index: it is copied as it is, but only if it is what --platform asked for
    // (push refuses the same way); copying amd64 for --platform linux/arm64 would say nothing.
    const wrong = await notThePlatform(client, repo, parsed.manifest, platforms, name);
    if (wrong) throw new NotFoundError(wrong, { details: { [NOT_APPLICABLE]: true } });
  }
  if (parsed.kind === 'index' && platforms && platforms.length) {
    const picked = platforms.map((p) => notApplicable(() => platformChild(parsed.index, p, name, client.logger)));
    const unique = [...new Map(picked.map((d) => [d.digest, d])).values()];
    // The source's own entries, kept as they are: an index may list children of the other family
    // (an OCI index over Docker v2 manifests, as `crane index append` makes).
    const index = buildIndex(parsed.index, unique, { anyFamily: true });
    // What it was made from, for a re-run's no-op check (image-copy.ts); not where --format docker
    // would drop it again, with a warning about annotations the source never had.
    const recorded = format === 'docker' ? index : recordSubset(index, fetched.digest, platforms);
    const bytes = serializeManifest(recorded);
    top = { digest: sha256Digest(bytes), mediaType: parsed.mediaType, bytes };
    if (recorded !== index) unrecorded = sha256Digest(serializeManifest(index));
    rewritten = true;
    // A kept child that is itself an index has children of its own, whose referrers --referrers
    // copies: those are only known by reading it.
    if (!format && opts.topHeld && !unique.some((d) => isIndexMediaType(d.mediaType)) && (await opts.topHeld(top))) {
      return {
        top,
        children: [],
        blobs: [],
        rewritten,
        sourceDigest: fetched.digest,
        sourceChildren: index.manifests.map((d) => d.digest),
        childrenUnread: true,
        ...(fetched.mirror ? { sourceMirror: fetched.mirror } : {}),
        ...(unrecorded ? { unrecorded } : {}),
      };
    }
  }
  await visit(top.bytes, top.mediaType, top.digest, 0);
  // A graph already in that family is left as it is: converting nothing must not re-serialise the
  // index or drop its attestations (which name digests that stay the same).
  if (format && ![top, ...children].every((n) => mediaFamily(n.mediaType) === format)) {
    const fields = new DroppedFields();
    const converted = notApplicable(() => convertNodes(top, children, format, (what) => log?.(`${names.set('format', format)}: ${what} left out`), fields, names));
    // Not an error (nothing the image runs with depends on them), but data lost: said once, as a warning.
    const lost = fields.line();
    if (lost) warn?.(`${names.set('format', format)}: ${lost}`);
    const changed = converted.top.digest !== top.digest;
    return {
      top: converted.top,
      children: converted.children,
      blobs: [...blobs.values()],
      rewritten: rewritten || changed,
      sourceDigest: fetched.digest,
      sourceChildren: converted.from,
      ...(fetched.mirror ? { sourceMirror: fetched.mirror } : {}),
    };
  }
  return {
    top,
    children,
    blobs: [...blobs.values()],
    rewritten,
    sourceDigest: fetched.digest,
    sourceChildren: children.map((c) => c.digest),
    ...(fetched.mirror ? { sourceMirror: fetched.mirror } : {}),
    ...(unrecorded ? { unrecorded } : {}),
  };
}

/**
 * Every node in `family`, children first (the order they are written), parents naming the new
 * child digests; `from`: each written child's source digest.
 */
function convertNodes(
  top: ManifestNode,
  children: ManifestNode[],
  family: MediaFamily,
  dropped: (what: string) => void,
  fields: DroppedFields,
  names: OptionNames,
): { top: ManifestNode; children: ManifestNode[]; from: string[] } {
  const done = new Map<string, ConvertedChild>();
  const convert = (n: ManifestNode): ManifestNode => {
    const p = parseManifest(n.bytes, n.mediaType);
    if (p.kind === 'image') {
      const m = convertManifest(p.manifest, family, dropped, fields, true, names);
      if (m === p.manifest) return n;
      const bytes = serializeManifest(m);
      return { digest: sha256Digest(bytes), mediaType: m.mediaType!, bytes };
    }
    const idx = convertIndexTo(p.index, family, done, dropped, fields, names);
    const bytes = serializeManifest(idx);
    const out = { digest: sha256Digest(bytes), mediaType: idx.mediaType!, bytes };
    return out.digest === sha256Digest(n.bytes) && n.mediaType === out.mediaType ? n : out;
  };
  // Attestations (in-toto layers) have no Docker v2 form and name the old digests: they are left out.
  const attestations = new Set<string>();
  for (const n of [top, ...children]) {
    const p = parseManifest(n.bytes, n.mediaType);
    if (p.kind === 'index') for (const d of p.index.manifests) if (isAttestation(d)) attestations.add(d.digest);
  }
  const outChildren: ManifestNode[] = [];
  const from: string[] = [];
  for (const c of children) {
    const n = attestations.has(c.digest) ? undefined : convert(c);
    if (!n) {
      dropped(`attestation ${c.digest}`);
      continue;
    }
    done.set(c.digest, { digest: n.digest, mediaType: n.mediaType, size: n.bytes.length });
    outChildren.push(n);
    from.push(c.digest);
  }
  return { top: convert(top), children: outChildren, from };
}
