/**
 * push(): base image + one new layer + rewritten config → target registry.
 *
 *   resolve base → plan base blobs (HEAD) → move them (mount/stream) while the layer is built and
 *   uploaded → write configs → confirm every blob → PUT manifest(s) → tags.
 *
 * Nothing reaches the local disk; no manifest is written unless every blob it names is in place.
 */
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { abortedOr, AbortedError, PartialFailureError, RegistryError, RegpushError, UsageError } from '../errors.js';
import { sha256Digest } from '../image/digest.js';
import { applyConfigChanges, serializeConfig, type LayerRecord } from '../image/config.js';
import { appendLayerToManifest, buildIndex, scratchManifest, serializeManifest } from '../image/build.js';
import { configMediaTypeFor, isForeignLayer, layerMediaTypeFor, MediaType } from '../image/mediatypes.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../image/types.js';
import { computeDiffId, epochFromEnv, validateSources, type LayerOptions, type LayerResult } from '../layer/index.js';
import { silentLogger } from '../log.js';
import { formatReference, parseReference, type ImageReference } from '../ref/reference.js';
import { connect, transportFor } from '../registry/connect.js';
import { largestFirst, moveBlobToMany, planBlob, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext } from '../transfer/blobs.js';
import { ensureBytesBlob } from '../transfer/bytes-blob.js';
import { uploadLayer, type LayerUploadOutcome } from './layer-upload.js';
import type { PushOptions, PushResult, PushedPlatform, PushTargetResult } from './options.js';
import { resolveBase, scratchBase, type ResolvedBase } from './resolve.js';
import { findReusableLayer, once, type ReuseFound } from './reuse.js';
import { checkTag } from './tags.js';

/**
 * Default parallel blob transfers. Measured (2026-11-27, 2 vCPU, cold cross-registry push of a
 * 322 MB four-layer base between two local registries, 3 interleaved rounds): --jobs 1/2/4/8 took
 * 3.18/2.83/2.88/3.13 s (medians). 2 and 4 are equal within noise; 4 keeps every layer of a
 * typical base in flight, and more only adds contention with the registries for the two cores.
 */
export const DEFAULT_JOBS = 4;

/** One target of a push and what happened there. */
interface Target {
  ref: ImageReference;
  ep: RepoEndpoint;
  tags: string[];
  plans: PlanAction[];
  reusable?: LayerResult;
  /** Blobs this run has already seen at the target (the warm path's layer and config): not HEADed again. */
  present: Set<string>;
  /** Digest of the manifest (or index) the --to tag held, when the warm path fetched it. */
  tagDigest?: string;
  blobs: BlobReport[];
  layer?: LayerUploadOutcome;
  failed?: unknown;
  result?: PushTargetResult;
}

/**
 * Builds and pushes an image; see PushOptions. With several targets (`to` as a list) each base
 * blob is read once and streamed to every target that lacks it, the app layer is built once per
 * registry that needs it, and one failing target does not stop the others (E_PARTIAL).
 */
export async function push(opts: PushOptions): Promise<PushResult> {
  const logger = opts.logger ?? silentLogger;
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - mark);
    mark = now;
    opts.events?.phase?.(name);
  };

  // ---- inputs: everything checked before the first request
  const toList = Array.isArray(opts.to) ? opts.to : [opts.to];
  if (toList.length === 0) throw new UsageError('push needs a target (--to)');
  const toRefs = toList.map((t) => parseReference(t));
  for (const [i, r] of toRefs.entries()) if (r.digest) throw new UsageError(`--to must name a tag, not a digest: ${toList[i]}`);
  const extraTags = (opts.tags ?? []).map((t) => checkTag(t));
  const tagsOf = (r: ImageReference) => [...new Set([checkTag(r.tag ?? 'latest'), ...extraTags])];
  const scratch = opts.from === 'scratch';
  const fromRef: ImageReference | undefined = scratch ? undefined : parseReference(opts.from);
  const platformArg = opts.platform ?? 'linux/amd64';
  const platform: Platform | 'all' = platformArg === 'all' ? 'all' : parsePlatform(platformArg);
  const jobs = opts.jobs ?? DEFAULT_JOBS;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be a whole number from 1 to 64 (got ${opts.jobs})`);
  const env = opts.env ?? {};
  const mtime = opts.mtime ?? epochFromEnv(env.SOURCE_DATE_EPOCH) ?? 0;
  const sources = opts.app ?? [];
  if (sources.length) await validateSources(sources);
  const layerOpts: LayerOptions | undefined = sources.length
    ? { sources, mtime, env, chown: opts.chown, gzipLevel: opts.gzipLevel, logger }
    : undefined;

  const abort = new AbortController();
  // Every in-flight request and open body listens on it; the default of 10 would warn falsely.
  setMaxListeners(1000, abort.signal);
  const onOuterAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const conn = { ...opts, signal: abort.signal };
  const transport = transportFor({ ...opts, logger });
  const single = toRefs.length === 1;
  let stoppedBy: unknown; // the failure that made a single-target push abort its other work
  try {
    const targets: Target[] = toRefs.map((ref) => ({
      ref,
      tags: tagsOf(ref),
      plans: [],
      present: new Set(),
      blobs: [],
      ep: {
        repo: ref.repository,
        client: connect(transport, ref.registry, 'to', [
          { repo: ref.repository, actions: ['pull', 'push'] },
          ...(fromRef && fromRef.registry === ref.registry ? [{ repo: fromRef.repository, actions: ['pull' as const] }] : []),
        ], conn),
      },
    }));
    const source: RepoEndpoint | undefined = fromRef
      ? { repo: fromRef.repository, client: connect(transport, fromRef.registry, 'from', [{ repo: fromRef.repository, actions: ['pull'] }], conn) }
      : undefined;
    // In a multi-target push a failing target is set aside; with one target its failure is the push's.
    const setAside = (t: Target, err: unknown) => {
      if (single) throw err;
      t.failed ??= err;
    };
    const live = () => targets.filter((t) => !t.failed);

    // ---- resolve, and (warm path) look at what each target tag holds at the same time
    const basePromise: Promise<ResolvedBase> =
      source && fromRef
        ? resolveBase(source.client, fromRef, platform, opts.platform !== undefined)
        : Promise.resolve(scratchBase(platform === 'all' ? [{ os: 'linux', architecture: 'amd64' }] : [platform], 'oci'));
    basePromise.catch(() => undefined); // awaited just below; the probes must not make it "unhandled" first
    const diffIdOf = layerOpts ? once(() => computeDiffId({ ...layerOpts, signal: abort.signal })) : undefined;
    const reuseProbes = targets.map((t) => (diffIdOf ? findReusableLayer(t.ep, t.ref, basePromise, diffIdOf) : Promise.resolve(undefined)));

    const ctx: TransferContext = { transport, signal: abort.signal, events: opts.events, chunkSize: opts.chunkSize };
    // With one target, the first failure stops everything at once (its uploads are cancelled).
    const stopAll = (err: unknown) => {
      if (single && !abort.signal.aborted) {
        stoppedBy = err;
        abort.abort();
      }
      throw err;
    };
    // The new layer needs nothing from the base (its bytes do not depend on it), so it is built and
    // uploaded as soon as every target has said whether it already holds it: on a first push that
    // is one 404, and the layer's gzip then overlaps the base resolve and the blob plan instead of
    // following them. (A failed resolve aborts it; at worst an unreferenced blob remains, never a manifest.)
    let layerTask: Promise<LayerResult | undefined> = Promise.resolve(undefined);
    const layerStarted = layerOpts && !opts.dryRun
      ? Promise.all(reuseProbes).then((found) => {
          found.forEach((r, i) => noteReuse(targets[i]!, r));
          if (abort.signal.aborted) return;
          layerTask = uploadLayerEverywhere(targets, layerOpts, ctx, opts.layerUpload, setAside).catch(stopAll);
          layerTask.catch(() => undefined); // awaited with the blobs below; an early failure elsewhere must not leave it unhandled
        })
      : Promise.resolve();
    const base = await basePromise;
    const family = base.family;
    phase('resolve');

    // ---- plan: every distinct base layer once, per target
    const distinct = new Map<string, Descriptor>();
    for (const img of base.images) for (const l of img.manifest.layers) if (!distinct.has(l.digest)) distinct.set(l.digest, l);
    const baseBlobs = largestFirst([...distinct.values()]);
    const planLimit = pLimit(Math.max(jobs, 8));
    await Promise.all(
      targets.map(async (t, i) => {
        try {
          t.plans = source ? await Promise.all(baseBlobs.map((d) => planLimit(() => planBlob(d, source, t.ep)))) : [];
          noteReuse(t, await reuseProbes[i]); // never rejects: any doubt means "build the layer"
        } catch (err) {
          setAside(t, err);
        }
      }),
    );
    phase('plan');

    const created = new Date(mtime * 1000).toISOString();
    const createdBy = sources.length ? `regpush: added ${sources.map((s) => s.dest).join(' ')}` : 'regpush: config change';

    if (opts.dryRun) {
      const first = targets[0]!;
      if (first.failed) throw first.failed;
      const { hashLayer } = await import('../layer/index.js');
      const lr = first.reusable ?? (layerOpts ? await hashLayer({ ...layerOpts, signal: abort.signal }) : undefined);
      const configs = base.images.map((img) => rewriteConfig(img.config, opts, lr ? { diffId: lr.diffId, created, createdBy } : undefined, fromRef, base));
      const planned = (plans: PlanAction[]): BlobReport[] =>
        baseBlobs.map((d, i) => ({
          digest: d.digest,
          size: d.size,
          mediaType: d.mediaType,
          action: plans[i] === 'skip' ? 'skipped' : plans[i] === 'foreign' ? 'foreign' : plans[i] === 'mount' ? 'planned-mount' : 'planned-stream',
          bytes: 0,
          retries: 0,
          resumes: 0,
        }));
      return {
        reference: `${first.ref.registry}/${first.ref.repository}`,
        digest: '',
        mediaType: '',
        tags: first.tags,
        base: { reference: fromRef ? formatReference(fromRef) : 'scratch', digest: base.digest },
        platforms: base.images.map((i) => ({ platform: formatPlatform(i.platform), digest: '', configDigest: '' })),
        layer: lr ? { digest: lr.digest, diffId: lr.diffId, size: lr.size, action: first.reusable ? 'reused' : 'planned' } : undefined,
        blobs: planned(first.plans),
        retries: 0,
        dryRun: true,
        timings,
        configs,
        http: transport.stats.snapshot(),
        ...(single ? {} : { targets: targets.map((t) => ({ reference: `${t.ref.registry}/${t.ref.repository}`, target: formatReference(t.ref), digest: '', tags: t.tags, ok: !t.failed, blobs: planned(t.plans) })) }),
      };
    }

    // ---- transfer: base blobs and the new layer at the same time
    const moveLimit = pLimit(jobs);
    await layerStarted;
    const blobTasks = source
      ? baseBlobs.map((d, i) =>
          moveLimit(async () => {
            const ts = live();
            if (!ts.length) return;
            const results = await moveBlobToMany(d, source, ts.map((t) => t.ep), ctx, ts.map((t) => t.plans[i]));
            await Promise.all(
              results.map(async (r, k) => {
                const t = ts[k]!;
                if (r.status !== 'fulfilled') return setAside(t, r.reason);
                t.blobs.push(r.value);
                // Confirmed as soon as it lands (see confirmBlobs), overlapping the blobs still moving.
                if (r.value.action !== 'skipped') await confirmBlob(t, d.digest).catch((err: unknown) => setAside(t, err));
              }),
            );
          }).catch(stopAll),
        )
      : [];
    const settled = await Promise.allSettled([layerTask, ...blobTasks]);
    const firstFailure = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof AbortedError && !opts.signal?.aborted)) ??
      settled.find((s) => s.status === 'rejected');
    if (firstFailure && firstFailure.status === 'rejected') throw firstFailure.reason;
    const layerResult = (settled[0] as PromiseFulfilledResult<LayerResult | undefined>).value;
    phase('transfer');

    const layerDesc: Descriptor | undefined = layerResult
      ? { mediaType: layerMediaTypeFor(family), digest: layerResult.digest, size: layerResult.size }
      : undefined;

    // ---- configs and manifests (pure; the same bytes for every target)
    const record: LayerRecord | undefined = layerResult ? { diffId: layerResult.diffId, created, createdBy } : undefined;
    const annotations = fromRef && family === 'oci'
      ? { 'org.opencontainers.image.base.name': formatReference(fromRef), 'org.opencontainers.image.base.digest': base.digest }
      : undefined;
    const built = base.images.map((img) => {
      const configBytes = serializeConfig(rewriteConfig(img.config, opts, record, fromRef, base));
      const configDesc: Descriptor = { mediaType: configMediaTypeFor(family), digest: sha256Digest(configBytes), size: configBytes.length };
      const manifest = composeManifest(img.manifest, configDesc, layerDesc, annotations, family, scratch);
      return { img, configBytes, configDigest: configDesc.digest, manifest, bytes: serializeManifest(manifest) };
    });
    const index = built.length === 1 && !(platform === 'all' && base.index) ? undefined : composeIndex(base, built);

    // ---- per target: configs, confirm every blob, then manifests and tags
    const eachTarget = (step: (t: Target) => Promise<void>) =>
      Promise.all(
        live().map(async (t) => {
          try {
            await step(t);
          } catch (err) {
            setAside(t, err);
          }
        }),
      );
    await eachTarget(async (t) => {
      // An unchanged config is the one the warm path has just fetched from this repository.
      await Promise.all(built.filter((b) => !t.present.has(b.configDigest)).map((b) => ensureBytesBlob(t.ep, b.configBytes, ctx)));
    });
    phase('config');
    await eachTarget((t) => confirmBlobs(t, built.map((b) => b.manifest), jobs));
    phase('confirm');
    await eachTarget(async (t) => {
      t.result = await writeManifests(t, built, index);
      for (const tag of t.result.tagsUnchanged ?? []) logger.info(`${t.ref.registry}/${t.ref.repository}:${tag} already holds ${t.result.digest}; not written again`);
    });
    phase('manifest');

    const results = targets.map((t) => t.result);
    const ok = targets.filter((t) => t.result);
    const primary = ok[0];
    if (!primary) throw targets[0]!.failed;
    const retries = targets.reduce((a, t) => a + t.blobs.reduce((x, b) => x + b.retries, 0) + (t.layer?.retries ?? 0), 0);
    const report: PushResult = {
      ...primary.result!,
      base: { reference: fromRef ? formatReference(fromRef) : 'scratch', digest: base.digest },
      layer: layerResult
        ? {
            digest: layerResult.digest,
            diffId: layerResult.diffId,
            size: layerResult.size,
            action: primary.reusable ? 'reused' : primary.layer?.action ?? 'uploaded',
            method: primary.reusable ? 'reused' : primary.layer?.method,
          }
        : undefined,
      blobs: primary.blobs,
      retries,
      dryRun: false,
      timings,
      http: transport.stats.snapshot(),
      ...(single
        ? {}
        : {
            targets: targets.map((t, i) =>
              results[i]
                ? { ...results[i]!, target: formatReference(t.ref), ok: true, blobs: t.blobs }
                : { reference: '', target: formatReference(t.ref), digest: '', tags: t.tags, ok: false, blobs: t.blobs, error: errorSummary(t.failed) },
            ),
          }),
    };
    const failed = targets.filter((t) => t.failed);
    if (failed.length) {
      throw new PartialFailureError(
        `${failed.length} of ${targets.length} targets failed: ${failed.map((t) => `${formatReference(t.ref)} (${errorSummary(t.failed).code}: ${errorSummary(t.failed).message})`).join('; ')}`,
        { details: { result: report, failed: failed.map((t) => formatReference(t.ref)) } },
      );
    }
    return report;
  } catch (err) {
    // A step that failed because another one stopped the push reports that one's error.
    throw abortedOr(err instanceof AbortedError && stoppedBy !== undefined && !opts.signal?.aborted ? stoppedBy : err, opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    abort.abort(); // stops work nobody waits for any more (a diffID pass after a failed resolve)
    transport.close();
  }
}

/** What a failed target's error was, for the report. */
function errorSummary(err: unknown): { code: string; message: string } {
  return err instanceof RegpushError ? { code: err.code, message: err.message } : { code: 'E_INTERNAL', message: String((err as Error)?.message ?? err) };
}

/**
 * Gets the app layer to every live target: built and streamed once to the first target that needs
 * it; others reuse, skip (present), mount (same registry) or get a byte-identical re-production
 * sent as one PUT with the digest already known. Resolves with the layer's facts.
 */
async function uploadLayerEverywhere(
  targets: Target[],
  layer: LayerOptions,
  ctx: TransferContext,
  method: PushOptions['layerUpload'],
  setAside: (t: Target, err: unknown) => void,
): Promise<LayerResult | undefined> {
  let known: LayerResult | undefined = targets.find((t) => t.reusable)?.reusable;
  const holders: Target[] = targets.filter((t) => t.reusable);
  for (const t of targets) {
    if (t.failed || t.reusable) continue;
    try {
      if (known && (await t.ep.client.headBlob(t.ep.repo, known.digest)) !== undefined) {
        t.layer = { result: known, action: 'skipped', bytes: 0, retries: 0, method: 'none' };
      } else if (known && holders.some((h) => h.ref.registry === t.ref.registry)) {
        const from = holders.find((h) => h.ref.registry === t.ref.registry)!;
        const m = await t.ep.client.mountBlob(t.ep.repo, known.digest, from.ep.repo).catch(() => undefined);
        if (m?.mounted) t.layer = { result: known, action: 'skipped', bytes: 0, retries: 0, method: 'none' };
        else {
          if (m && !m.mounted) await t.ep.client.cancelUpload(m.uploadUrl);
          t.layer = await uploadLayer(t.ep, layer, ctx, method, known);
        }
      } else {
        t.layer = await uploadLayer(t.ep, layer, ctx, method, known);
      }
      known ??= t.layer.result;
      if (t.layer.action === 'skipped') t.present.add(known.digest); // its HEAD just answered 200
      else await confirmBlob(t, known.digest);
      holders.push(t);
    } catch (err) {
      setAside(t, err);
    }
  }
  return known;
}

/** Records what the warm path found at a target. */
function noteReuse(t: Target, found: ReuseFound | undefined): void {
  t.reusable = found?.layer;
  t.tagDigest = found?.tagDigest;
  for (const d of found?.present ?? []) t.present.add(d);
}

/** HEADs `digest`, which the target has just accepted, and records it as present; E_REGISTRY when it is not there. */
async function confirmBlob(t: Target, digest: string): Promise<void> {
  if ((await t.ep.client.headBlob(t.ep.repo, digest)) === undefined) {
    throw new RegistryError(`blob ${digest} is missing at ${t.ref.registry}/${t.ref.repository} after upload; no manifest written`);
  }
  t.present.add(digest);
}

/**
 * Before any manifest: every non-foreign blob the manifests name must be at the target
 * (REGISTRY-QUIRKS: Aliyun). Blobs are confirmed as they land (confirmBlob); this HEADs the rest,
 * which this target neither skipped nor saw in this run — normally none.
 */
async function confirmBlobs(t: Target, manifests: ImageManifest[], jobs: number): Promise<void> {
  const skipped = new Set([...t.present, ...t.blobs.filter((b) => b.action === 'skipped').map((b) => b.digest)]);
  const referenced = new Set<string>();
  for (const m of manifests) for (const l of m.layers) if (!isForeignLayer(l) && !skipped.has(l.digest)) referenced.add(l.digest);
  const limit = pLimit(Math.max(jobs, 8));
  await Promise.all(
    [...referenced].map((d) =>
      limit(() => confirmBlob(t, d)),
    ),
  );
}

interface BuiltImage {
  img: ResolvedBase['images'][number];
  configDigest: string;
  manifest: ImageManifest;
  bytes: Buffer;
}

/** The new index for a multi-platform push (same family as the base's, attestations dropped). */
function composeIndex(base: ResolvedBase, built: BuiltImage[]): { bytes: Buffer; mediaType: string } {
  const children: Descriptor[] = built.map((b) => {
    const entry: Descriptor = { mediaType: b.manifest.mediaType ?? MediaType.OCI_MANIFEST, digest: sha256Digest(b.bytes), size: b.bytes.length, platform: b.img.indexEntry?.platform ?? b.img.platform };
    if (b.img.indexEntry?.annotations) entry.annotations = b.img.indexEntry.annotations;
    return entry;
  });
  const baseIndex: ImageIndex = base.index ?? { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  const index = buildIndex(baseIndex, children);
  return { bytes: serializeManifest(index), mediaType: index.mediaType ?? MediaType.OCI_INDEX };
}

/**
 * PUTs the manifest(s) and every tag at one target; children by digest before the index. A tag
 * seen in this run to hold these very bytes already is not written again (as crane does): the
 * result is the same, one request is saved, and a registry with immutable tags does not refuse
 * a re-push that changes nothing.
 */
async function writeManifests(t: Target, built: BuiltImage[], index: { bytes: Buffer; mediaType: string } | undefined): Promise<PushTargetResult> {
  const platforms: PushedPlatform[] = [];
  const top = index ?? { bytes: built[0]!.bytes, mediaType: built[0]!.manifest.mediaType ?? MediaType.OCI_MANIFEST };
  const topDigest = sha256Digest(top.bytes);
  const held = t.tagDigest === topDigest ? t.tags[0] : undefined; // the warm path fetched the first tag, the one in --to
  const unchanged: string[] = [];
  let digest = '';
  if (!index) {
    const b = built[0]!;
    for (const tag of t.tags) {
      if (tag === held) {
        unchanged.push(tag);
        digest = topDigest;
      } else {
        digest = await t.ep.client.putManifest(t.ep.repo, tag, b.bytes, top.mediaType);
      }
    }
    platforms.push({ platform: formatPlatform(b.img.platform), digest, configDigest: b.configDigest });
  } else {
    for (const b of built) {
      // Children of an index the tag already holds are in the repository: the registry checked them when that index was written.
      const d = held ? sha256Digest(b.bytes) : await t.ep.client.putManifest(t.ep.repo, sha256Digest(b.bytes), b.bytes, b.manifest.mediaType ?? MediaType.OCI_MANIFEST);
      platforms.push({ platform: formatPlatform(b.img.platform), digest: d, configDigest: b.configDigest });
    }
    for (const tag of t.tags) {
      if (tag === held) {
        unchanged.push(tag);
        digest = topDigest;
      } else {
        digest = await t.ep.client.putManifest(t.ep.repo, tag, index.bytes, top.mediaType);
      }
    }
  }
  return {
    reference: `${t.ref.registry}/${t.ref.repository}@${digest}`,
    digest,
    mediaType: top.mediaType,
    tags: t.tags,
    ...(unchanged.length ? { tagsUnchanged: unchanged } : {}),
    platforms,
  };
}

function rewriteConfig(config: ImageConfig, opts: PushOptions, record: LayerRecord | undefined, fromRef: ImageReference | undefined, base: ResolvedBase): ImageConfig {
  const changes = { ...(opts.config ?? {}) };
  if (opts.baseLabels && fromRef) {
    changes.labels = {
      ...(changes.labels ?? {}),
      'org.opencontainers.image.base.name': formatReference(fromRef),
      'org.opencontainers.image.base.digest': base.digest,
    };
  }
  const history = record ? undefined : { created: new Date(0).toISOString(), createdBy: 'regpush: config change' };
  return applyConfigChanges(config, changes, record, history);
}

function composeManifest(
  base: ImageManifest,
  config: Descriptor,
  layer: Descriptor | undefined,
  annotations: Record<string, string> | undefined,
  family: 'oci' | 'docker',
  scratch: boolean,
): ImageManifest {
  if (scratch) {
    const m = scratchManifest(family, config, layer ? [layer] : []);
    return m;
  }
  if (layer) return appendLayerToManifest(base, { config, layer, annotations });
  const m = structuredClone(base);
  m.config = config;
  if (annotations && family === 'oci') m.annotations = { ...(m.annotations ?? {}), ...annotations };
  return m;
}
