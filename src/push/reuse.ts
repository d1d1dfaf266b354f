/**
 * The warm path: when the target tag already holds an image containing a layer with the same
 * diffID as one we would build, that layer's descriptor is reused — no gzip, no upload. Each of
 * our layers is checked on its own, so after a one-file change only the layer holding that file is
 * compressed and sent. Computing a diffID needs only tar + sha256, far cheaper than gzip. Best
 * effort: any doubt means "build".
 *
 * A layer is matched by its diffID anywhere in the tag's image (every platform child of an
 * index), not only at the same position: equal diffIDs mean equal content, and a manifest the tag
 * points at names only blobs the repository holds (no HEAD needed). So a moved layer, or one
 * built on an updated base, is reused too.
 *
 * It starts before the base is resolved: the target's manifest is fetched, and the diffID passes
 * (all layers at once) begin as soon as the tag turns out to exist, while the base manifest and
 * config are still on their way. So a warm push costs about max(resolve, diffID) instead of their sum.
 */
import type { ChurningFile } from '../layer/churn.js';
import type { LayerResult } from '../layer/index.js';
import { sayOnce } from '../log.js';
import { CONFIG_CAP } from '../http/response.js';
import { NotFoundError, ProtocolError } from '../errors.js';
import { parseManifest } from '../image/manifest.js';
import { baseMediaType, MediaType } from '../image/mediatypes.js';
import { imagePlatforms, platformMatches } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../image/types.js';
import type { ImageReference } from '../ref/reference.js';
import type { RepoEndpoint } from '../transfer/types.js';
import { mtimeOfComment } from './compose-stage.js';
import type { OtherTags } from './extra-tags.js';
import type { ResolvedBase } from './resolve.js';

/** What the warm path found at a target. */
export interface ReuseFound {
  /** Per layer of ours (same order): the existing layer with its diffID, or undefined when it must be built. */
  layers: (LayerResult | undefined)[];
  /** Blobs the tag's manifests name, so the repository holds them: no need to ask again. */
  present: string[];
  /** Digest of what the target tag held (its manifest, or index), computed from the bytes fetched; undefined when the layers came from another tag (alsoTags). */
  tagDigest?: string;
  /** True when the tag holds the very image the push would write (the whole-image comparison matched). */
  same: boolean;
  /** With `same`: the media type of what the tag holds (its manifest, or index), as its body says. */
  mediaType?: string;
  /**
   * Settles once every word on why a layer was not reused has been said (sayWhyNotReused): that
   * may need a walk of the layer's files, which runs beside the uploads; the push awaits it before
   * it ends, so its warning comes before the push's result. Never rejects.
   */
  explained?: Promise<void>;
}

/**
 * What the push would write, as far as the warm path needs it: `layersOf(platform)` are the
 * indexes of our layers (bottom to top) that the image of `platform` gets; `topDigest(layers)` is
 * the digest of the manifest (or index) push would write with these layers.
 */
export interface SameImageCheck {
  layersOf(platform: Platform): number[];
  topDigest(base: ResolvedBase, layers: readonly (LayerResult | undefined)[]): string;
}

/** A layer's diffID and tar size (undefined: a layer no image gets, never built); callers share one computation between targets. */
export type DiffIdOf = () => Promise<{ diffId: string; uncompressedSize: number } | undefined>;

/** Memoises `f`: the first call starts it, later calls share its promise. */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** gzip layers: the same bytes serve an OCI and a Docker v2 manifest (see image/convert.ts). */
const REUSABLE_TYPES: ReadonlySet<string> = new Set([MediaType.OCI_LAYER_GZIP, MediaType.DOCKER_LAYER_GZIP]);

/**
 * The existing layers of the target tag that equal what our layers would produce. `base` may
 * still be resolving; a failed resolve is the push's error, not this check's. Never rejects.
 */
export async function findReusableLayers(
  target: RepoEndpoint,
  toRef: ImageReference,
  base: Promise<ResolvedBase>,
  diffIdsOf: readonly DiffIdOf[],
  opts: {
    /** The whole-image comparison (the shortcut); without it, layer by layer only. */
    same?: SameImageCheck;
    /**
     * Told as soon as the tag turns out to exist, with its manifest when it is a single image
     * (undefined for an index, whose children are read later). True when the caller expects the
     * tag to hold another image: the tag's configs, which say which layers changed, are then read
     * at once, alongside the base, instead of after the whole-image comparison has failed.
     */
    onTagFound?: (images: readonly ImageManifest[] | undefined) => boolean | void;
    /**
     * Told once those configs have been asked for (only where onTagFound expected a change): a
     * request the caller makes now, such as an upload session, comes after them and so cannot
     * take the connection the configs' GET would use, which is on the critical path.
     */
    onChangeExpected?: () => void;
    /** Told when the tag exists but holds another image (the whole-image comparison failed): a layer is likely to be sent. */
    onChanged?: () => void;
    /**
     * The push's other tags at this target (`--tag`), asked in turn when the first does not exist:
     * a CI job pushing `app:$COMMIT --tag latest` names a new tag each time, and `latest` holds
     * the previous deploy, whose layers are as good to reuse (the same repository holds them).
     * Their manifests come from `ExtraTags` (extra-tags.ts), which asks about each tag once for
     * this and for the commit alike.
     */
    alsoTags?: OtherTags;
    /** Our layers' names in messages ("layer 1", "app layer"), as the report names them; default "layer N". */
    names?: readonly string[];
    /**
     * Our layers' history lines, the time their entries carry (seconds, the `mtime` option) and
     * what the caller calls that option: a layer not reused whose line the tag's history has with
     * another entries' time (its comment, mtimeComment) is said to be why.
     */
    history?: LayerHistory;
  } = {},
): Promise<ReuseFound | undefined> {
  const { onTagFound, onChangeExpected, onChanged } = opts;
  const log = target.client.logger;
  try {
    const tag = toRef.tag ?? 'latest';
    let from = tag;
    let top = await manifestIfAny(target, tag);
    for (const other of opts.alsoTags?.tags ?? []) {
      if (top) break;
      top = await opts.alsoTags!.manifest((from = other));
    }
    if (!top) return undefined; // a first push: nothing to reuse
    const own = from === tag;
    if (!own) log.info(`${target.client.registry}/${target.repo}:${tag} is a new tag; its layers are matched against :${from}`);
    // Only the tag being written can turn out to hold the very image (and then not be written).
    const same = own ? opts.same : undefined;
    const parsed = parseManifest(top.bytes, top.mediaType);
    const expectChange = onTagFound?.(parsed.kind === 'image' ? [parsed.manifest] : undefined) === true;
    // The tag exists: start every diffID pass now, alongside the requests below.
    const mine = diffIdsOf.map((f) => f());
    for (const m of mine) m.catch(() => undefined); // awaited below; an early return must not leave them unhandled
    let configs = expectChange && parsed.kind === 'image' ? readConfigs(target, [parsed.manifest]) : undefined;
    if (configs) {
      configs.catch(() => undefined); // awaited below, unless the whole image turns out the same
      onChangeExpected?.();
    }
    const resolved = await base;
    let images: ImageManifest[];
    let platforms: (Platform | undefined)[];
    if (parsed.kind === 'index') {
      // The children of the platforms we build (their layers are the candidates).
      const children = imagePlatforms(parsed.index).filter((d) => d.platform && resolved.images.some((i) => platformMatches(i.platform, d.platform!)));
      platforms = children.map((d) => d.platform);
      images = await Promise.all(
        children.map(async (d) => {
          const m = await target.client.getManifest(target.repo, d.digest);
          const p = parseManifest(m.bytes, m.mediaType);
          if (p.kind !== 'image') throw new ProtocolError(`index ${top.digest} lists ${d.digest}, which is not an image manifest`);
          return p.manifest;
        }),
      );
    } else {
      images = [parsed.manifest];
      platforms = [undefined];
    }
    if (same) {
      const whole = await sameImage(resolved, images, platforms, mine, top.digest, same);
      if (whole) {
        log.info(`${target.client.registry}/${target.repo}:${tag} already holds this very image (${top.digest})`);
        return { ...whole, mediaType: parsed.mediaType };
      }
    }
    onChanged?.();
    // No layer of ours to match (a config-only push): the tag's configs would tell nothing.
    const tagDigest = own ? top.digest : undefined;
    if (diffIdsOf.length === 0) return { layers: [], present: namedBlobs(images), tagDigest, same: false };
    configs ??= readConfigs(target, images);
    const byDiffId = new Map<string, Descriptor>();
    (await configs).forEach((cfg, k) => {
      const m = images[k]!;
      const ids = cfg.rootfs?.diff_ids ?? [];
      if (ids.length !== m.layers.length) return; // layers and diffIDs do not line up: trust neither
      ids.forEach((id, i) => {
        const l = m.layers[i]!;
        if (REUSABLE_TYPES.has(baseMediaType(l.mediaType)) && !l.urls?.length && !byDiffId.has(id)) byDiffId.set(id, l);
      });
    });
    const unmatched: number[] = [];
    const layers = await Promise.all(
      mine.map(async (m, i): Promise<LayerResult | undefined> => {
        const mineNow = await m;
        if (!mineNow) return undefined; // a layer no image gets
        const { diffId, uncompressedSize } = mineNow;
        const found = byDiffId.get(diffId);
        if (!found) {
          unmatched.push(i);
          return undefined;
        }
        log.info(`${opts.names?.[i] ?? `layer ${i + 1}`} unchanged (diffID ${diffId}); reusing ${found.digest}`);
        return { digest: found.digest, diffId, size: found.size, uncompressedSize, entries: 0 };
      }),
    );
    // Only words: started, not awaited, so a changed layer's upload does not wait for the walk of
    // its files that may name the cause (the caller awaits `explained` before it ends).
    const explained =
      opts.history && unmatched.length
        ? sayWhyNotReused(await configs, unmatched, opts.history, opts.names, from, {
            warn: (l) => sayOnce(opts.history!.said, (m) => log.warn(m), l),
            debug: (l) => sayOnce(opts.history!.said, (m) => log.debug(m), l),
          }).catch((err: unknown) => log.debug(`why a layer was not reused is not said: ${(err as Error).message}`))
        : undefined;
    return { layers, present: namedBlobs(images), tagDigest, same: false, explained };
  } catch (err) {
    log.debug(`layer reuse check skipped: ${(err as Error).message}`);
    return undefined;
  }
}

/** What the warm path knows of our layers to say why one it could have reused was not (sayWhyNotReused). */
export interface LayerHistory {
  /** Our layers' history lines (same order as the layers). */
  createdBy: readonly string[];
  /** The time their entries carry (seconds, the `mtime` option). */
  mtime: number;
  /** What the caller calls that option. */
  option: string;
  /**
   * Per layer: true where a change is a surprise, so worth a word when its files differ from the
   * same sources' layer at the tag (a `--layer`: dependencies); false for the app layer, which
   * changes on every deploy. Absent: none is.
   */
  expected?: readonly boolean[];
  /** The first file of layer `i` that every install or build writes anew (layer/churn.ts), to name as the likely cause. */
  churn?: (i: number) => Promise<ChurningFile | undefined>;
  /** The push's: once it fires (the push failed or was cancelled), a walk it stopped found nothing, which says nothing of the layer. */
  signal?: AbortSignal;
  /** Lines said already: with several targets, each target's check finds the same, said once. */
  said?: Set<string>;
}

/**
 * Says why layers that the tag's own history has from the same sources (the same history line)
 * were not reused, where the user would have expected them to be:
 *
 * - every entry of a new layer carries the `mtime` option's time (0 unless given), so the same
 *   files dated otherwise make another layer, and it is sent again. A caller that gives a time
 *   which changes from one push to the next (a commit's) so sends every layer on every deploy; said
 *   once for all such layers, with both times. SOURCE_DATE_EPOCH dates only the config (the
 *   history's `created`), which never stops a layer from being reused, and is not compared;
 * - a dependency layer (history.expected) dated the same whose files differ: sent again whole,
 *   where the user expected kilobytes. Usually one file that every install rewrites (a timestamped
 *   `.pyc`, a build cache) does it, on every deploy, silently; so each such layer is named with
 *   the first such file its sources hold (history.churn) in a warning, or, where it holds none (a
 *   dependency changed, most likely, or the layer is code given as a --layer), in a debug line
 *   saying what to look for.
 */
async function sayWhyNotReused(
  configs: readonly ImageConfig[],
  unmatched: readonly number[],
  ours: LayerHistory,
  names: readonly string[] | undefined,
  from: string,
  say: { warn: (line: string) => void; debug: (line: string) => void },
): Promise<void> {
  let theirs: number | undefined;
  const dated: string[] = [];
  const changed: number[] = [];
  const nameOf = (i: number): string => names?.[i] ?? `layer ${i + 1}`;
  for (const i of [...unmatched].sort((a, b) => a - b)) {
    const line = ours.createdBy[i];
    // The tag's own layers are its last entries: one a layer this push writes (its base's entries
    // come before them, and a base pushed by regpush with another mtime is no reason to speak).
    const times = configs.flatMap((c) => (c.history ?? []).slice(-ours.createdBy.length)).filter((h) => h.created_by === line).map((h) => mtimeOfComment(h.comment));
    const other = times.find((at) => at !== undefined && at !== ours.mtime);
    if (other !== undefined) {
      theirs ??= other;
      dated.push(nameOf(i));
    } else if (ours.expected?.[i] && times.includes(ours.mtime)) changed.push(i);
  }
  const iso = (s: number): string => new Date(s * 1000).toISOString();
  if (theirs !== undefined) {
    say.warn(
      `${dated.join(', ')}: not reused, and :${from} has ${dated.length > 1 ? 'layers' : 'a layer'} from the same sources ` +
        `whose entries are dated ${iso(theirs)}, this push ${iso(ours.mtime)} (${ours.option}): ` +
        'every entry of a layer carries that time, so the same files dated otherwise make another layer, sent again; ' +
        `give ${ours.option} the same value from one push to the next (or leave it out) for a re-push to send only the layers whose files changed`,
    );
  }
  for (const i of changed) {
    const what = `${nameOf(i)} (${ours.createdBy[i]!.replace(/^regpush: layer /, '')})`;
    const cause = await ours.churn?.(i);
    // A walk the push stopped (it failed, or was cancelled) found nothing because it did not look:
    // no word on any layer then, rather than one pointing at a file nobody looked for.
    if (ours.signal?.aborted) return;
    const differ = `${what}: not reused, and sent again whole: its files differ from those of the layer :${from} holds from the same sources; `;
    // A file that changes on every install is certain to defeat reuse on every deploy: a warning.
    // Without one, a dependency that did change (or a code layer given as a --layer) is the likelier
    // cause, on every deploy for the latter: a debug line, not one a default run prints.
    if (cause) {
      say.warn(`${differ}it holds ${cause.name}, ${cause.why}`);
    } else {
      say.debug(
        `${differ}where no dependency changed, a file that every install or build writes anew (a timestamp, a cache) is the likely cause: ` +
          'leave it out with a .dockerignore line in the folder',
      );
    }
  }
}

/** The tag's manifest, or undefined when the tag does not exist. */
async function manifestIfAny(target: RepoEndpoint, tag: string) {
  try {
    return await target.client.getManifest(target.repo, tag);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The configs of the tag's image manifests, in their order (they list the layers' diffIDs). */
function readConfigs(target: RepoEndpoint, images: readonly ImageManifest[]): Promise<ImageConfig[]> {
  return Promise.all(images.map(async (m) => JSON.parse((await target.client.getBlobBytes(target.repo, m.config.digest, CONFIG_CAP)).toString('utf8')) as ImageConfig));
}

/**
 * The warm path's shortcut: when the tag's image is the one push would write — our layers taken,
 * by position, from the top of the tag's manifests, and the manifest or index composed from them
 * has the very digest the tag holds — nothing is fetched or checked further: the configs are
 * equal (a manifest names its config by digest) and every blob is named by the manifest the tag
 * points at, so the registry has it. This spares the target's config GETs and a HEAD per layer:
 * an unchanged push costs the manifest GETs and the base config GET. Any difference (base
 * updated, a file changed, another regpush version's gzip) falls back to the per-layer check.
 */
async function sameImage(
  resolved: ResolvedBase,
  images: readonly ImageManifest[],
  platforms: readonly (Platform | undefined)[],
  mine: readonly Promise<{ diffId: string; uncompressedSize: number } | undefined>[],
  tagDigest: string,
  same: SameImageCheck,
): Promise<ReuseFound | undefined> {
  const ids = await Promise.all(mine);
  const layers: (LayerResult | undefined)[] = new Array(ids.length).fill(undefined);
  for (const b of resolved.images) {
    // A single manifest at the tag can only be the image of a one-platform push.
    const at = platforms.findIndex((p) => (p === undefined ? resolved.images.length === 1 : platformMatches(b.platform, p)));
    const m = images[at];
    if (!m) return undefined;
    const ours = same.layersOf(b.platform);
    if (m.layers.length !== b.manifest.layers.length + ours.length) return undefined;
    for (const [k, i] of ours.entries()) {
      const d = m.layers[b.manifest.layers.length + k]!;
      if (layers[i] && layers[i]!.digest !== d.digest) return undefined;
      layers[i] = { digest: d.digest, diffId: ids[i]!.diffId, size: d.size, uncompressedSize: ids[i]!.uncompressedSize, entries: 0 };
    }
  }
  // Every layer some image gets is matched (a variant for an OS the base lacks goes nowhere: --platform all).
  const used = new Set(resolved.images.flatMap((b) => same.layersOf(b.platform)));
  if ([...used].some((i) => layers[i] === undefined)) return undefined;
  if (same.topDigest(resolved, layers) !== tagDigest) return undefined;
  return { layers, present: namedBlobs(images), tagDigest, same: true };
}

/**
 * The blobs the tag's manifests name: the registry accepted each manifest only with every blob it
 * names in this repository, and keeps them while a manifest names them, so no HEAD is needed to
 * reuse one or to skip sending it (a base blob the tag already holds). Foreign layers (with
 * `urls`) are left out: the registry need not hold those.
 */
function namedBlobs(images: readonly ImageManifest[]): string[] {
  return images.flatMap((m) => [m.config.digest, ...m.layers.filter((l) => !l.urls?.length).map((l) => l.digest)]);
}
