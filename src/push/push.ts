/**
 * push(): base image + one new layer + rewritten config → one or more targets.
 *
 *   inputs   → every flag checked before the first request
 *   resolve  → the base manifest(s) and config(s); meanwhile each target says what its tag holds
 *              (the warm path) and the app layer starts uploading as soon as that is known
 *   plan     → per base blob and target: skip / mount / stream / foreign (the transfer engine)
 *   transfer → base blobs moved (one read for all targets) while the layer finishes
 *   compose  → configs, manifests and the index (pure, the same bytes for every target)
 *   commit   → configs uploaded, every blob confirmed, then manifests and tags
 *
 * Nothing reaches the local disk; no manifest is written unless every blob it names is in place.
 * What is not push's own decision (targets, plans, moves, confirmation, set-aside, partial
 * failure) lives in the transfer engine (src/transfer/engine.ts), shared with copy and sync.
 */
import { UsageError } from '../errors.js';
import { type LayerRecord, serializeConfig } from '../image/config.js';
import { serializeManifest } from '../image/build.js';
import { baseAnnotations, composeIndex, composeManifest, rewriteConfig, type BaseName } from '../image/compose.js';
import { sha256Digest } from '../image/digest.js';
import { configMediaTypeFor, layerMediaTypeFor, MediaType } from '../image/mediatypes.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Descriptor, ImageManifest, Platform } from '../image/types.js';
import { computeDiffId, epochFromEnv, hashLayer, validateSources, type LayerOptions, type LayerResult } from '../layer/index.js';
import { silentLogger } from '../log.js';
import { checkTag, formatReference, parseReference, type ImageReference } from '../ref/reference.js';
import { ensureBytesBlob } from '../transfer/bytes-blob.js';
import { checkJobs, TargetSet, TransferRun, type ManifestToWrite, type TransferTarget } from '../transfer/engine.js';
import type { BlobReport, RepoEndpoint } from '../transfer/types.js';
import { uploadLayerEverywhere, type LayerState } from './layer-everywhere.js';
import type { PushOptions, PushResult, PushTargetReport, PushTargetResult } from './options.js';
import { resolveBase, scratchBase, type BasePlatformImage, type ResolvedBase } from './resolve.js';
import { findReusableLayer, once, type DiffIdOf } from './reuse.js';

/** push()'s inputs, checked. */
interface PushInputs {
  toRefs: ImageReference[];
  fromRef?: ImageReference;
  platform: Platform | 'all';
  jobs: number;
  mtime: number;
  layer?: LayerOptions;
  /** The history line of the new layer. */
  createdBy: string;
}

/** What resolve found, and the warm-path facts per target. */
interface Resolved {
  base: ResolvedBase;
  /** Distinct base layers, in manifest order. */
  baseBlobs: Descriptor[];
  /** The app layer's upload, started as soon as every target said what its tag holds. */
  layerUpload: Promise<LayerResult | undefined>;
}

/** One platform image of the new image. */
interface BuiltImage {
  base: BasePlatformImage;
  configBytes: Buffer;
  configDigest: string;
  manifest: ImageManifest;
  bytes: Buffer;
}

/** The new image, the same for every target. */
interface Composed {
  images: BuiltImage[];
  /** The index, for a multi-platform push. */
  index?: { bytes: Buffer; mediaType: string };
}

/**
 * Builds and pushes an image; see PushOptions. With several targets (`to` as a list) each base
 * blob is read once and streamed to every target that lacks it, the app layer is built once per
 * registry that needs it, and one failing target does not stop the others (E_PARTIAL).
 */
export async function push(opts: PushOptions): Promise<PushResult> {
  const inputs = await checkInputs(opts);
  const timings: Record<string, number> = {};
  const clock = phaseClock(timings, opts.events?.phase);
  const run = new TransferRun({ ...opts, jobs: inputs.jobs, logger: opts.logger ?? silentLogger });
  const tagsOf = tagRule(opts.tags);
  // One target: its first failure stops the push at once (the layer upload is cancelled).
  const set = run.targets(inputs.toRefs.map((ref) => ({ ref, tags: tagsOf(ref) })), inputs.fromRef, { stopRun: true });
  const layers = new Map<TransferTarget, LayerState>(set.list.map((t) => [t, {}]));
  try {
    const source = inputs.fromRef ? run.source(inputs.fromRef) : undefined;
    const resolved = await resolveStage(run, set, layers, source, inputs, opts);
    clock('resolve');
    if (source) await set.plan(source, resolved.baseBlobs);
    clock('plan');
    if (opts.dryRun) return await dryRunReport(run, set, layers, resolved, inputs, opts, timings);

    const layer = await transferStage(run, set, source, resolved);
    clock('transfer');
    const composed = composeStage(resolved.base, layer, inputs, opts);
    await commitStage(set, layers, composed, clock);
    return finalReport(run, set, layers, resolved.base, layer, inputs, timings);
  } catch (err) {
    throw run.failure(err);
  } finally {
    set.finish();
    run.close();
  }
}

/** Every input checked before the first request. */
async function checkInputs(opts: PushOptions): Promise<PushInputs> {
  const toList = Array.isArray(opts.to) ? opts.to : [opts.to];
  if (toList.length === 0) throw new UsageError('push needs a target (--to)');
  const toRefs = toList.map((t) => parseReference(t));
  for (const [i, r] of toRefs.entries()) if (r.digest) throw new UsageError(`--to must name a tag, not a digest: ${toList[i]}`);
  for (const t of opts.tags ?? []) checkTag(t);
  for (const r of toRefs) checkTag(r.tag ?? 'latest');
  const fromRef = opts.from === 'scratch' ? undefined : parseReference(opts.from);
  const platformArg = opts.platform ?? 'linux/amd64';
  const platform: Platform | 'all' = platformArg === 'all' ? 'all' : parsePlatform(platformArg);
  const jobs = checkJobs(opts.jobs);
  const env = opts.env ?? {};
  const mtime = opts.mtime ?? epochFromEnv(env.SOURCE_DATE_EPOCH) ?? 0;
  const sources = opts.app ?? [];
  if (sources.length) await validateSources(sources);
  const layer: LayerOptions | undefined = sources.length ? { sources, mtime, env, chown: opts.chown, gzipLevel: opts.gzipLevel, gzipConcurrency: opts.gzipJobs, logger: opts.logger ?? silentLogger } : undefined;
  const createdBy = sources.length ? `regpush: added ${sources.map((s) => s.dest).join(' ')}` : 'regpush: config change';
  return { toRefs, fromRef, platform, jobs, mtime, layer, createdBy };
}

/** The tags each target gets: the one in its reference (default latest), then the extra ones. */
function tagRule(extra: string[] | undefined): (ref: ImageReference) => string[] {
  const extraTags = (extra ?? []).map(checkTag);
  return (ref) => [...new Set([checkTag(ref.tag ?? 'latest'), ...extraTags])];
}

/** Milliseconds per phase, also announced to the progress display. */
function phaseClock(timings: Record<string, number>, announce?: (name: string) => void): (name: string) => void {
  let mark = performance.now();
  return (name) => {
    const now = performance.now();
    timings[name] = Math.round(now - mark);
    mark = now;
    announce?.(name);
  };
}

/**
 * Resolves the base and, at the same time, asks each target what its tag holds (the warm path:
 * an unchanged app layer is reused without compressing or uploading it). The new layer needs
 * nothing from the base, so its upload starts as soon as every target has answered: on a first
 * push that is one 404, and the layer's gzip overlaps the base resolve and the blob plan. A
 * failed resolve aborts it; at worst an unreferenced blob remains, never a manifest.
 */
async function resolveStage(run: TransferRun, set: TargetSet, layers: Map<TransferTarget, LayerState>, source: RepoEndpoint | undefined, inputs: PushInputs, opts: PushOptions): Promise<Resolved> {
  const { platform, fromRef, layer } = inputs;
  const basePromise: Promise<ResolvedBase> =
    source && fromRef
      ? resolveBase(source.client, fromRef, platform, opts.platform !== undefined)
      : Promise.resolve(scratchBase(platform === 'all' ? [{ os: 'linux', architecture: 'amd64' }] : [platform], 'oci'));
  basePromise.catch(() => undefined); // awaited below; the probes must not make it "unhandled" first
  const diffIdOf: DiffIdOf | undefined = layer ? once(() => computeDiffId({ ...layer, signal: run.signal })) : undefined;
  const probes = Promise.all(
    set.list.map(async (t) => {
      const found = diffIdOf ? await findReusableLayer(t.ep, t.ref, basePromise, diffIdOf) : undefined; // never rejects
      const state = layers.get(t)!;
      state.reusable = found?.layer;
      state.tagDigest = found?.tagDigest;
      for (const d of found?.present ?? []) t.present.add(d);
    }),
  );
  const layerUpload: Promise<LayerResult | undefined> =
    layer && !opts.dryRun
      ? probes.then(() => (run.signal.aborted ? undefined : uploadLayerEverywhere(set, layers, layer, run.ctx, opts.layerUpload)))
      : Promise.resolve(undefined);
  layerUpload.catch(() => undefined); // awaited with the blobs; an early failure elsewhere must not leave it unhandled
  const base = await basePromise;
  await probes;
  const distinct = new Map<string, Descriptor>();
  for (const img of base.images) for (const l of img.manifest.layers) if (!distinct.has(l.digest)) distinct.set(l.digest, l);
  return { base, baseBlobs: [...distinct.values()], layerUpload };
}

/** Moves the base blobs while the app layer finishes; resolves with the layer's facts. */
async function transferStage(run: TransferRun, set: TargetSet, source: RepoEndpoint | undefined, resolved: Resolved): Promise<LayerResult | undefined> {
  const settled = await Promise.allSettled([resolved.layerUpload, source ? set.transfer(source, resolved.baseBlobs) : Promise.resolve()]);
  const failure = run.firstFailure(settled);
  if (failure !== undefined) throw failure;
  return (settled[0] as PromiseFulfilledResult<LayerResult | undefined>).value;
}

/** The base's name and digest, as labels and annotations record them. */
function baseName(inputs: PushInputs, base: ResolvedBase): BaseName | undefined {
  return inputs.fromRef ? { name: formatReference(inputs.fromRef), digest: base.digest } : undefined;
}

/** Configs, manifests and the index: pure, the same bytes for every target. */
function composeStage(base: ResolvedBase, layer: LayerResult | undefined, inputs: PushInputs, opts: PushOptions): Composed {
  const record: LayerRecord | undefined = layer ? { diffId: layer.diffId, created: new Date(inputs.mtime * 1000).toISOString(), createdBy: inputs.createdBy } : undefined;
  const layerDesc: Descriptor | undefined = layer ? { mediaType: layerMediaTypeFor(base.family), digest: layer.digest, size: layer.size } : undefined;
  const name = baseName(inputs, base);
  const annotations = baseAnnotations(name, base.family);
  const images = base.images.map((img): BuiltImage => {
    const configBytes = serializeConfig(rewriteConfig(img.config, opts.config, record, opts.baseLabels ? name : undefined));
    const configDesc: Descriptor = { mediaType: configMediaTypeFor(base.family), digest: sha256Digest(configBytes), size: configBytes.length };
    const manifest = composeManifest(inputs.fromRef ? img.manifest : undefined, configDesc, layerDesc, annotations, base.family);
    return { base: img, configBytes, configDigest: configDesc.digest, manifest, bytes: serializeManifest(manifest) };
  });
  const multi = images.length > 1 || (inputs.platform === 'all' && base.index !== undefined);
  const index = multi
    ? composeIndex(base.index, images.map((b) => ({ manifest: b.manifest, bytes: b.bytes, platform: b.base.indexEntry?.platform ?? b.base.platform, annotations: b.base.indexEntry?.annotations })))
    : undefined;
  return { images, index };
}

/** Per target: configs, then every blob confirmed, then manifests and tags. */
async function commitStage(set: TargetSet, layers: Map<TransferTarget, LayerState>, composed: Composed, clock: (name: string) => void): Promise<void> {
  await set.each(async (t) => {
    // An unchanged config is the one the warm path has just fetched from this repository.
    await Promise.all(composed.images.filter((b) => !t.present.has(b.configDigest)).map((b) => ensureBytesBlob(t.ep, b.configBytes, set.ctx)));
    for (const b of composed.images) t.present.add(b.configDigest);
  });
  clock('config');
  await set.confirmAll(composed.images.flatMap((b) => b.manifest.layers));
  clock('confirm');
  const top: ManifestToWrite = composed.index
    ? { digest: sha256Digest(composed.index.bytes), ...composed.index }
    : { digest: sha256Digest(composed.images[0]!.bytes), bytes: composed.images[0]!.bytes, mediaType: composed.images[0]!.manifest.mediaType ?? MediaType.OCI_MANIFEST };
  const children: ManifestToWrite[] = composed.index
    ? composed.images.map((b) => ({ digest: sha256Digest(b.bytes), bytes: b.bytes, mediaType: b.manifest.mediaType ?? MediaType.OCI_MANIFEST }))
    : [];
  await set.each(async (t) => {
    const state = layers.get(t)!;
    // The warm path fetched the tag in --to (the first one): when it holds these very bytes, it is not written again.
    const held = new Set(state.tagDigest === top.digest ? [t.tags[0]!] : []);
    const c = await set.commitManifests(t, top, children, held);
    for (const tag of c.unchanged) set.logger.info(`${t.ref.registry}/${t.ref.repository}:${tag} already holds ${c.digest}; not written again`);
    state.result = {
      reference: `${t.ref.registry}/${t.ref.repository}@${c.digest}`,
      digest: c.digest,
      mediaType: top.mediaType,
      tags: t.tags,
      ...(c.unchanged.length ? { tagsUnchanged: c.unchanged } : {}),
      platforms: composed.images.map((b) => ({ platform: formatPlatform(b.base.platform), digest: composed.index ? sha256Digest(b.bytes) : c.digest, configDigest: b.configDigest })),
    };
  });
  clock('manifest');
}

/** The report; E_PARTIAL (with the report in its details) when some targets failed. */
function finalReport(run: TransferRun, set: TargetSet, layers: Map<TransferTarget, LayerState>, base: ResolvedBase, layer: LayerResult | undefined, inputs: PushInputs, timings: Record<string, number>): PushResult {
  const primary = set.list.find((t) => layers.get(t)!.result);
  if (!primary) throw set.list[0]!.failed;
  const p = layers.get(primary)!;
  const retries = set.list.reduce((a, t) => a + t.blobs.reduce((x, b) => x + b.retries, 0) + (layers.get(t)!.layer?.retries ?? 0), 0);
  const report: PushResult = {
    ...p.result!,
    base: { reference: inputs.fromRef ? formatReference(inputs.fromRef) : 'scratch', digest: base.digest },
    layer: layer
      ? { digest: layer.digest, diffId: layer.diffId, size: layer.size, action: p.reusable ? 'reused' : p.layer?.action ?? 'uploaded', method: p.reusable ? 'reused' : p.layer?.method }
      : undefined,
    blobs: primary.blobs,
    retries,
    dryRun: false,
    timings,
    http: run.transport.stats.snapshot(),
    ...(set.failFast ? {} : { targets: set.list.map((t) => targetReport(t, layers.get(t)!.result)) }),
  };
  const failure = set.outcome('targets', report);
  if (failure) throw failure;
  return report;
}

function targetReport(t: TransferTarget, result: PushTargetResult | undefined): PushTargetReport {
  return result
    ? { ...result, target: formatReference(t.ref), ok: true, blobs: t.blobs }
    : { reference: '', target: formatReference(t.ref), digest: '', tags: t.tags, ok: false, blobs: t.blobs, error: TargetSet.summary(t) };
}

/** The plan, the configs and the layer's digest; nothing written. */
async function dryRunReport(run: TransferRun, set: TargetSet, layers: Map<TransferTarget, LayerState>, resolved: Resolved, inputs: PushInputs, opts: PushOptions, timings: Record<string, number>): Promise<PushResult> {
  const first = set.list[0]!;
  if (first.failed) throw first.failed;
  const reusable = layers.get(first)!.reusable;
  const lr = reusable ?? (inputs.layer ? await hashLayer({ ...inputs.layer, signal: run.signal }) : undefined);
  const composed = composeStage(resolved.base, lr, inputs, opts);
  const planned = (t: TransferTarget): BlobReport[] => set.plannedReports(t, resolved.baseBlobs);
  return {
    reference: `${first.ref.registry}/${first.ref.repository}`,
    digest: '',
    mediaType: '',
    tags: first.tags,
    base: { reference: inputs.fromRef ? formatReference(inputs.fromRef) : 'scratch', digest: resolved.base.digest },
    platforms: resolved.base.images.map((i) => ({ platform: formatPlatform(i.platform), digest: '', configDigest: '' })),
    layer: lr ? { digest: lr.digest, diffId: lr.diffId, size: lr.size, action: reusable ? 'reused' : 'planned' } : undefined,
    blobs: planned(first),
    retries: 0,
    dryRun: true,
    timings,
    configs: composed.images.map((b) => JSON.parse(b.configBytes.toString('utf8')) as unknown),
    http: run.transport.stats.snapshot(),
    ...(set.failFast ? {} : { targets: set.list.map((t) => ({ reference: `${t.ref.registry}/${t.ref.repository}`, target: formatReference(t.ref), digest: '', tags: t.tags, ok: !t.failed, blobs: planned(t) })) }),
  };
}
