/**
 * push()'s compose stage (pure): the configs, manifests and index of the new image, the same bytes
 * for every target. The configs need only the base and the new layers' diffIDs, so push() composes
 * them early (as soon as the diffIDs are announced) and the rest once the layers' digests are known;
 * the warm path composes the same way to compare with what the tag holds.
 */
import { InputError } from '../errors.js';
import { serializeManifest } from '../image/build.js';
import { baseAnnotations, composeIndex, composeManifest, rewriteConfig, type BaseName } from '../image/compose.js';
import { type LayerRecord, ledByOp, serializeConfig, unsetEnvReferences } from '../image/config.js';
import { sha256Digest } from '../image/digest.js';
import { configMediaTypeFor, layerMediaTypeFor } from '../image/mediatypes.js';
import { formatPlatform, isWindows, platformMatches } from '../image/platform.js';
import type { Descriptor, ImageManifest, Platform } from '../image/types.js';
import type { LayerResult } from '../layer/index.js';
import type { Logger } from '../log.js';
import type { OptionNames } from '../option-names.js';
import { badValue, type PushInputs } from './inputs.js';
import type { PushOptions } from './options.js';
import type { BasePlatformImage, ResolvedBase } from './resolve.js';

/** One platform image of the new image. */
export interface BuiltImage {
  base: BasePlatformImage;
  configBytes: Buffer;
  configDigest: string;
  manifest: ImageManifest;
  bytes: Buffer;
}

/** The new image, the same for every target. */
export interface Composed {
  images: BuiltImage[];
  /** The index, for a multi-platform push. */
  index?: { bytes: Buffer; mediaType: string };
}

/** The configs composed from the announced diffIDs, and the diffIDs they were made from. */
export interface EarlyConfigs {
  /** Per new layer; undefined for one no image gets (usedLayers). */
  diffIds: (string | undefined)[];
  list: BuiltConfig[];
}

/** The base's name and digest, as labels and annotations record them. */
function baseName(inputs: PushInputs, base: ResolvedBase): BaseName | undefined {
  return inputs.fromRef ? { name: inputs.fromName, digest: base.digest } : undefined;
}

/** One platform image's config: bytes and digest. */
export interface BuiltConfig {
  bytes: Buffer;
  digest: string;
}

/**
 * This platform's new layers, bottom to top (by index): the shared ones, those qualified for it,
 * and of a layer planned once per OS family (--platform all) the variant for its OS.
 */
export function layersFor(inputs: PushInputs, platform: Platform, have: (i: number) => boolean = () => true): number[] {
  const windows = isWindows(platform);
  return inputs.layers.flatMap((l, i) => (have(i) && (!l.platform || platformMatches(l.platform, platform)) && (l.forWindows === undefined || l.forWindows === windows) ? [i] : []));
}

/** The new layers some image of `base` gets: every other one (a variant for an OS the base lacks) is never built. */
export function usedLayers(inputs: PushInputs, base: ResolvedBase): Set<number> {
  return new Set(base.images.flatMap((img) => layersFor(inputs, img.platform)));
}

/**
 * Warns, once per push and per key of the env changes (each --env, config.env[i]), about each
 * `$NAME` in it whose NAME neither the base's Env nor an earlier entry sets: it becomes empty, as
 * in a Dockerfile's ENV, and a `$` meant literally (`--env 'DB=postgres://u:pa$sword@h/db'`) would
 * be lost without a word. The warning names the entry's key (and for a library caller its index
 * in config.env, the first where the key has several) and the offset of the `$`, never the value
 * nor the name after the `$`: in that case the name is part of a password, and CI logs are public
 * (env-expand.ts). Said where the configs are composed (several times in a push), it would
 * repeat; said here, once the base is known, it is said once. `names`: what the caller called the
 * entries (`--env KEY`, `config.env[2] (KEY)`).
 */
export function warnUnsetEnv(base: ResolvedBase, env: readonly string[] | undefined, logger: Logger, names: OptionNames): void {
  if (!env?.length) return;
  // Per key: the offsets of its unset variables, the platforms of the images where one is unset, its first entry's index.
  const found = new Map<string, { offsets: Set<number>; where: Set<string>; index: number }>();
  for (const img of base.images) {
    for (const { key, offset, index } of unsetEnvReferences(img.config, env)) {
      let f = found.get(key);
      if (!f) found.set(key, (f = { offsets: new Set(), where: new Set(), index }));
      f.offsets.add(offset);
      f.where.add(formatPlatform(img.platform));
      f.index = Math.min(f.index, index);
    }
  }
  for (const [key, { offsets, where, index }] of found) {
    const at = [...offsets].sort((a, b) => a - b);
    const only = where.size < base.images.length ? ` in the base's ${[...where].join(', ')} image${where.size > 1 ? 's' : ''}` : '';
    const which = at.length === 1 ? `the "$" at offset ${at[0]} of its value starts a variable` : `the "$"s at offsets ${at.join(', ')} of its value start variables`;
    logger.warn(
      `${names.about(`config.env[${index}]`, key)}: ${which} that is not set${only} (neither in the base's Env nor by an earlier ${names.name('config.env')}), so it became empty; ` +
        'for a literal "$" write \\$ (inside single quotes on a shell command line), or ${NAME:-} to mean empty on purpose',
    );
  }
}

/** What starts the history comment of a new layer whose entries are not dated 0 (mtimeComment). */
const MTIME_COMMENT = 'regpush: entries dated ';

/**
 * The history comment of a new layer whose entries are dated `mtime` (seconds): none for 0, the
 * default, so that an image whose entries are dated 0 carries no comment to differ by. The warm path
 * reads it back (mtimeOfComment) to tell a layer not reused because its entries are dated
 * otherwise from one whose files changed: the entry's `created` is the config's time
 * (SOURCE_DATE_EPOCH), which says nothing about the layer's bytes.
 */
export function mtimeComment(mtime: number): string | undefined {
  return mtime === 0 ? undefined : `${MTIME_COMMENT}${new Date(mtime * 1000).toISOString()}`;
}

/** The seconds a new layer's history comment says its entries carry: 0 without a comment; undefined for a comment that is not mtimeComment's. */
export function mtimeOfComment(comment: string | undefined): number | undefined {
  if (comment === undefined || comment === '') return 0;
  if (!comment.startsWith(MTIME_COMMENT)) return undefined;
  const ms = Date.parse(comment.slice(MTIME_COMMENT.length));
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** The configs, one per platform image: they need the base and the new layers' diffIDs only (pure). */
export function composeConfigs(base: ResolvedBase, diffIds: readonly (string | undefined)[], inputs: PushInputs, opts: PushOptions): BuiltConfig[] {
  // The config's time (SOURCE_DATE_EPOCH), not the layers' entries' (inputs.ts).
  const created = new Date(inputs.created * 1000).toISOString();
  const comment = mtimeComment(inputs.mtime);
  const name = baseName(inputs, base);
  return base.images.map((img) => {
    const records: LayerRecord[] = layersFor(inputs, img.platform, (i) => diffIds[i] !== undefined).map((i) => ({
      diffId: diffIds[i]!,
      created,
      createdBy: inputs.layers[i]!.createdBy,
      ...(comment ? { comment } : {}),
    }));
    // A Windows path given with platform "all" is refused here, by the config's own OS: named as
    // the caller gave it (`--workdir`, `regpush.json workdir`, `push(): config.workdir`), as
    // checkBase names the options it refuses once the base is read, and E_INPUT where the project
    // file gave it (badValue), E_USAGE for a flag or an option.
    const bytes = serializeConfig(ledByOp(inputs.names.op, () => rewriteConfig(
      img.config,
      opts.config,
      records,
      opts.baseLabels ? name : undefined,
      created,
      (p) => inputs.names.name(p),
      (p) => badValue(inputs.names, p),
    )));
    return { bytes, digest: sha256Digest(bytes) };
  });
}

/**
 * Configs, manifests and the index: pure, the same bytes for every target. `configs`: composed
 * earlier from the diffIDs the layers announced; the layers' final facts must agree with them.
 */
export function composeStage(base: ResolvedBase, results: readonly (LayerResult | undefined)[], inputs: PushInputs, opts: PushOptions, configs?: EarlyConfigs): Composed {
  const used = usedLayers(inputs, base);
  const ids = results.map((r, i) => (used.has(i) ? r?.diffId : undefined));
  if (configs && configs.diffIds.some((d, i) => d !== ids[i])) {
    const i = configs.diffIds.findIndex((d, k) => d !== ids[k]);
    throw new InputError(`${inputs.layers[i]!.label.name}: its source changed while it was being pushed (diffID ${configs.diffIds[i]} became ${ids[i]})`);
  }
  const built = configs?.list ?? composeConfigs(base, ids, inputs, opts);
  const name = baseName(inputs, base);
  const annotations = base.family === 'oci' ? { ...(baseAnnotations(name, base.family) ?? {}), ...(inputs.annotations ?? {}) } : undefined;
  const images = base.images.map((img, k): BuiltImage => {
    const descs: Descriptor[] = layersFor(inputs, img.platform, (i) => results[i] !== undefined).map((i) => ({
      mediaType: layerMediaTypeFor(base.family),
      digest: results[i]!.digest,
      size: results[i]!.size,
    }));
    const { bytes: configBytes, digest: configDigest } = built[k]!;
    const configDesc: Descriptor = { mediaType: configMediaTypeFor(base.family), digest: configDigest, size: configBytes.length };
    const manifest = composeManifest(inputs.fromRef ? img.manifest : undefined, configDesc, descs, annotations && Object.keys(annotations).length ? annotations : undefined, base.family);
    return { base: img, configBytes, configDigest, manifest, bytes: serializeManifest(manifest) };
  });
  const multi = images.length > 1 || (inputs.platform === 'all' && base.index !== undefined);
  // The base index's own base.{name,digest} (kept by composeIndex with its other annotations) named
  // what the old index was built on: replaced as an entry's are, the user's --annotation on top.
  const indexAnnotations = { ...replacedKeys(base.index?.annotations, baseAnnotations(name, base.family)), ...(inputs.annotations ?? {}) };
  const index = multi
    ? composeIndex(
        base.index,
        images.map((b) => ({
          manifest: b.manifest,
          bytes: b.bytes,
          platform: b.base.indexEntry?.platform ?? b.base.platform,
          annotations: entryAnnotations(b.base.indexEntry?.annotations, baseAnnotations(name, base.family)),
        })),
        Object.keys(indexAnnotations).length ? indexAnnotations : undefined,
        base.family,
      )
    : undefined;
  return { images, index };
}

/**
 * A base index entry's annotations for our index. Those naming the base image (Docker's official
 * images put `org.opencontainers.image.base.name`/`.digest` on each entry) describe the child the
 * entry points at, which is now our manifest, built on another base: they get the values our
 * manifest carries. Only keys the entry has are replaced, so an entry without them stays as it was.
 */
function entryAnnotations(annotations: Record<string, string> | undefined, ours: Record<string, string> | undefined): Record<string, string> | undefined {
  return annotations && { ...annotations, ...replacedKeys(annotations, ours) };
}

/** Of `ours`, the keys `annotations` has (with our values): what entryAnnotations replaces. */
function replacedKeys(annotations: Record<string, string> | undefined, ours: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(ours ?? {}).filter(([k]) => annotations !== undefined && Object.hasOwn(annotations, k)));
}

/** The digest of what is written at the tag: the index, or the one manifest. */
export function topDigestOf(composed: Composed): string {
  return sha256Digest(composed.index ? composed.index.bytes : composed.images[0]!.bytes);
}
