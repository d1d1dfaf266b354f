/**
 * push's checks of the resolved base against what is to be built on it, before any blob moves or
 * any layer is built: each platform a --layer qualifier names is one the base has, each new layer
 * is in the format of the images it goes into, annotations have an OCI manifest to go into, and a
 * Windows variant holds no symlink; and the base converted to the output family (--format).
 * A setting the base does not take is that setting's mistake, not the base's: E_USAGE for a flag or
 * a library option, E_INPUT where regpush.json gave it (badValue), as src/errors.ts splits them.
 */
import { convertDescriptor, convertIndex, convertManifest, DroppedFields } from '../image/convert.js';
import { manifestMediaTypeFor, mediaFamily, MediaType, type MediaFamily } from '../image/mediatypes.js';
import { formatPlatform, isWindows, platformMatches } from '../image/platform.js';
import type { Platform } from '../image/types.js';
import { windowsSymlinkRefused } from '../layer/index.js';
import type { Logger } from '../log.js';
import { usedLayers } from './compose-stage.js';
import { badValue, chownWindows, type PushInputs } from './inputs.js';
import { APP_LAYER } from './layer-label.js';
import type { ResolvedBase } from './resolve.js';

/** Distinct platforms, first spelling kept. */
export function uniquePlatforms(list: Platform[]): Platform[] {
  const out: Platform[] = [];
  for (const p of list) if (!out.some((q) => platformMatches(p, q) && platformMatches(q, p))) out.push(p);
  return out;
}

/**
 * The base in the output family (--format), after the checks that need it: every platform named
 * by a --layer qualifier is one we build, and annotations have an OCI manifest to go into.
 */
export function checkBase(base: ResolvedBase, inputs: PushInputs, logger: Logger): { base: ResolvedBase; family: MediaFamily } {
  const { names } = inputs;
  for (const l of inputs.layers) {
    if (l.platform && !base.images.some((i) => platformMatches(l.platform!, i.platform))) {
      const have = base.images.map((i) => formatPlatform(i.platform)).join(', ');
      const path = `layers[${l.index}]`;
      throw badValue(names, path)(`${names.about(path, `${formatPlatform(l.platform)}=…`)}: the image being built has no ${formatPlatform(l.platform)} platform (it has ${have || 'none'})`);
    }
  }
  checkLayerFormats(base, inputs);
  // ONBUILD triggers are instructions for a Dockerfile that starts FROM the base: regpush runs
  // none, and the new image leaves them out (applyConfigChanges), as `docker build` does once it
  // has run them. Said, since what they would have done (an `npm install`, a COPY) did not happen.
  const triggers = [...new Set(base.images.flatMap((img) => (Array.isArray(img.config.config?.OnBuild) ? (img.config.config.OnBuild as unknown[]).map(String) : [])))];
  if (triggers.length) {
    logger.warn(
      `the base has ONBUILD instructions, which regpush does not run (${triggers.map((t) => JSON.stringify(t)).join(', ')}); ` +
        'they are left out of the new image, as docker build leaves them out once run',
    );
  }
  const to = inputs.format ?? base.family;
  if (inputs.annotations && to === 'docker') {
    throw badValue(names, 'annotations')(`${names.about('annotations')} needs an OCI manifest, and the base is Docker v2 (which has no annotations): add ${names.set('format', 'oci')}`);
  }
  // An index may list children of the other family (an OCI index over Docker v2 manifests): those
  // are converted to the index's, since our config and layer go into every child we write.
  const mixed = base.images.some((img) => mediaFamily(img.manifest.mediaType ?? MediaType.OCI_MANIFEST) !== to);
  if (to === base.family && !mixed) return { base, family: base.family };
  const why = inputs.format ? names.set('format', to) : `the base's index is Docker v2, and so is every child written under it`;
  const dropped = (what: string): void => logger.info(`${why}: the base's ${what} have no place in Docker v2 and are left out`);
  // What the base's descriptors lose (annotations, artifactType, data): counted over every image
  // written, said once as a warning.
  const fields = new DroppedFields();
  const converted: ResolvedBase = {
    ...base,
    family: to,
    index: base.index ? convertIndex(base.index, to, dropped, names) : undefined,
    images: base.images.map((img) => ({
      ...img,
      // Only where --format names the other family is a manifest converted that leaving it out keeps.
      manifest: convertManifest(img.manifest, to, dropped, fields, to !== base.family, names),
      indexEntry: img.indexEntry ? convertDescriptor(img.indexEntry, manifestMediaTypeFor(to), to, 'index entry', fields) : undefined,
    })),
  };
  const lost = fields.line();
  if (lost) logger.warn(`${why}: the base's ${lost}`);
  return { family: base.family, base: converted };
}

/**
 * Each new layer is in the format of every image it goes into: a Windows image reads only a layer
 * laid out for Windows (layer/windows-layer.ts), and a Linux one only a plain root. The format
 * follows the layer's platform, else --platform (with --platform all each unqualified layer has a
 * variant per OS family), so it is wrong only where the base turns out otherwise than --platform
 * said: a single Windows image with no --platform. Refused then, before any config or manifest is
 * written; so is --chown where a Windows image gets a layer.
 */
function checkLayerFormats(base: ResolvedBase, inputs: PushInputs): void {
  const { names } = inputs;
  for (const img of base.images) {
    const windows = isWindows(img.platform);
    for (const l of inputs.layers) {
      if (l.platform && !platformMatches(l.platform, img.platform)) continue;
      if (l.forWindows !== undefined && l.forWindows !== windows) continue; // the other variant goes there
      if (windows && inputs.chown) throw badValue(names, 'chown')(`the base has a ${formatPlatform(img.platform)} image: ${chownWindows(names.name('chown'))}`);
      if ((l.options.windows === true) === windows) continue;
      const it = formatPlatform(img.platform);
      const path = l.label === APP_LAYER ? 'app' : `layers[${l.index}]`;
      throw badValue(names, path)(`the base is a ${it} image, and ${names.name(path, l.dest.join(' '))} is built for ${windows ? 'Linux' : 'Windows'}: give ${names.set('platform', it)}`);
    }
  }
}

/**
 * With --platform all, a layer's Windows variant is checked for symlinks (which a Windows layer
 * cannot hold) once the base shows that a Windows image gets it: before any blob moves or any
 * layer is built, since the base blobs and both variants' uploads wait for the checked base. A
 * variant no image gets is not refused: over a Linux-only base the symlink is fine. The first
 * link was noted by the walk checkInputs started (LayerPlan.windowsSymlink), not a walk of its own.
 */
export async function checkWindowsVariants(base: ResolvedBase, inputs: PushInputs, signal: AbortSignal): Promise<void> {
  if (!inputs.layers.some((l) => l.forWindows === true)) return;
  const used = usedLayers(inputs, base);
  for (const [i, l] of inputs.layers.entries()) {
    if (l.forWindows !== true || !used.has(i)) continue;
    // Mostly answered already: the walk checkInputs started for the layer's files noted the first link.
    const link = await l.windowsSymlink!(signal);
    if (link !== undefined) throw windowsSymlinkRefused(link);
  }
}
