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
import { abortedOr, AbortedError, RegistryError, UsageError } from '../errors.js';
import { sha256Digest } from '../image/digest.js';
import { applyConfigChanges, serializeConfig, type LayerRecord } from '../image/config.js';
import { appendLayerToManifest, buildIndex, scratchManifest, serializeManifest } from '../image/build.js';
import { configMediaTypeFor, isForeignLayer, layerMediaTypeFor, MediaType } from '../image/mediatypes.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../image/types.js';
import { epochFromEnv, validateSources, type LayerOptions } from '../layer/index.js';
import { silentLogger } from '../log.js';
import { formatReference, parseReference, type ImageReference } from '../ref/reference.js';
import { connect, transportFor } from '../registry/connect.js';
import { moveBlob, planBlob, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext } from '../transfer/blobs.js';
import { ensureBytesBlob } from '../transfer/bytes-blob.js';
import { uploadLayer } from './layer-upload.js';
import type { PushOptions, PushResult, PushedPlatform } from './options.js';
import { resolveBase, scratchBase, type ResolvedBase } from './resolve.js';
import { findReusableLayer } from './reuse.js';
import { checkTag } from './tags.js';

/** Default parallel blob transfers. */
export const DEFAULT_JOBS = 4;

/** Builds and pushes an image; see PushOptions. Resolves with the report, rejects with a RegpushError. */
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
  const toRef = parseReference(opts.to);
  if (toRef.digest) throw new UsageError(`--to must name a tag, not a digest: ${opts.to}`);
  const tags = [toRef.tag ?? 'latest', ...(opts.tags ?? [])].map((t) => checkTag(t));
  const uniqueTags = [...new Set(tags)];
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
  const retriesSeen = { n: 0 };
  try {
    const sameRegistry = fromRef !== undefined && fromRef.registry === toRef.registry;
    const target: RepoEndpoint = {
      repo: toRef.repository,
      client: connect(transport, toRef.registry, 'to', [
        { repo: toRef.repository, actions: ['pull', 'push'] },
        ...(sameRegistry && fromRef ? [{ repo: fromRef.repository, actions: ['pull' as const] }] : []),
      ], conn),
    };
    const source: RepoEndpoint | undefined = fromRef
      ? { repo: fromRef.repository, client: connect(transport, fromRef.registry, 'from', [{ repo: fromRef.repository, actions: ['pull'] }], conn) }
      : undefined;

    // ---- resolve
    const base: ResolvedBase =
      source && fromRef
        ? await resolveBase(source.client, fromRef, platform, opts.platform !== undefined)
        : scratchBase(platform === 'all' ? [{ os: 'linux', architecture: 'amd64' }] : [platform], 'oci');
    const family = base.family;
    phase('resolve');

    // ---- plan: every distinct base layer once
    const distinct = new Map<string, Descriptor>();
    for (const img of base.images) for (const l of img.manifest.layers) if (!distinct.has(l.digest)) distinct.set(l.digest, l);
    const baseBlobs = [...distinct.values()];
    const planLimit = pLimit(Math.max(jobs, 8));
    const plans: PlanAction[] = source ? await Promise.all(baseBlobs.map((d) => planLimit(() => planBlob(d, source, target)))) : [];
    const reusable = layerOpts ? await findReusableLayer(target, toRef, base, layerOpts, family) : undefined;
    phase('plan');

    const ctx: TransferContext = { transport, signal: abort.signal, events: opts.events, chunkSize: opts.chunkSize };
    const created = new Date(mtime * 1000).toISOString();
    const createdBy = sources.length ? `regpush: added ${sources.map((s) => s.dest).join(' ')}` : 'regpush: config change';

    if (opts.dryRun) {
      const { hashLayer } = await import('../layer/index.js');
      const lr = reusable ?? (layerOpts ? await hashLayer({ ...layerOpts, signal: abort.signal }) : undefined);
      const configs = base.images.map((img) => rewriteConfig(img.config, opts, lr ? { diffId: lr.diffId, created, createdBy } : undefined, fromRef, base));
      return {
        reference: `${toRef.registry}/${toRef.repository}`,
        digest: '',
        mediaType: '',
        tags: uniqueTags,
        base: { reference: fromRef ? formatReference(fromRef) : 'scratch', digest: base.digest },
        platforms: base.images.map((i) => ({ platform: formatPlatform(i.platform), digest: '', configDigest: '' })),
        layer: lr ? { digest: lr.digest, diffId: lr.diffId, size: lr.size, action: reusable ? 'reused' : 'planned' } : undefined,
        blobs: baseBlobs.map((d, i) => ({
          digest: d.digest,
          size: d.size,
          mediaType: d.mediaType,
          action: plans[i] === 'skip' ? 'skipped' : plans[i] === 'foreign' ? 'foreign' : plans[i] === 'mount' ? 'planned-mount' : 'planned-stream',
          bytes: 0,
          retries: 0,
          resumes: 0,
        })),
        retries: 0,
        dryRun: true,
        timings,
        configs,
        http: transport.stats.snapshot(),
      };
    }

    // ---- transfer: base blobs and the new layer at the same time; the first failure stops the rest
    const moveLimit = pLimit(jobs);
    const fail = (err: unknown) => {
      if (!abort.signal.aborted) abort.abort();
      throw err;
    };
    const layerTask = layerOpts
      ? reusable
        ? Promise.resolve({ result: reusable, action: 'skipped' as const, bytes: 0, retries: 0, method: 'reused' })
        : uploadLayer(target, layerOpts, ctx, opts.layerUpload).catch(fail)
      : Promise.resolve(undefined);
    const blobTasks = source ? baseBlobs.map((d, i) => moveLimit(() => moveBlob(d, plans[i] ?? 'stream', source, target, ctx)).catch(fail)) : [];
    const settled = await Promise.allSettled([layerTask, ...blobTasks]);
    const firstFailure = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof AbortedError && !opts.signal?.aborted)) ??
      settled.find((s) => s.status === 'rejected');
    if (firstFailure && firstFailure.status === 'rejected') throw firstFailure.reason;
    const layerOut = (settled[0] as PromiseFulfilledResult<Awaited<typeof layerTask>>).value;
    const blobs = settled.slice(1).map((s) => (s as PromiseFulfilledResult<BlobReport>).value);
    retriesSeen.n = blobs.reduce((a, b) => a + b.retries, 0) + (layerOut?.retries ?? 0);
    phase('transfer');

    const layerDesc: Descriptor | undefined = layerOut
      ? { mediaType: layerMediaTypeFor(family), digest: layerOut.result.digest, size: layerOut.result.size }
      : undefined;

    // ---- configs and manifests (pure), configs uploaded
    const record: LayerRecord | undefined = layerOut ? { diffId: layerOut.result.diffId, created, createdBy } : undefined;
    const annotations = fromRef && family === 'oci'
      ? { 'org.opencontainers.image.base.name': formatReference(fromRef), 'org.opencontainers.image.base.digest': base.digest }
      : undefined;
    const built = await Promise.all(
      base.images.map(async (img) => {
        const config = rewriteConfig(img.config, opts, record, fromRef, base);
        const bytes = serializeConfig(config);
        const { digest: configDigest } = await ensureBytesBlob(target, bytes, ctx);
        const configDesc: Descriptor = { mediaType: configMediaTypeFor(family), digest: configDigest, size: bytes.length };
        const manifest = composeManifest(img.manifest, configDesc, layerDesc, annotations, family, scratch);
        return { img, configDigest, manifest, bytes: serializeManifest(manifest) };
      }),
    );
    phase('config');

    // ---- confirm: every blob the manifests name must be at the target before any manifest is PUT
    const referenced = new Set<string>();
    for (const b of built) for (const l of b.manifest.layers) if (!isForeignLayer(l)) referenced.add(l.digest);
    const confirmLimit = pLimit(Math.max(jobs, 8));
    const skipped = new Set(blobs.filter((b) => b.action === 'skipped').map((b) => b.digest));
    await Promise.all(
      [...referenced].filter((d) => !skipped.has(d)).map((d) =>
        confirmLimit(async () => {
          if ((await target.client.headBlob(target.repo, d)) === undefined) {
            throw new RegistryError(`blob ${d} is missing at ${toRef.registry}/${toRef.repository} after upload; no manifest written`);
          }
        }),
      ),
    );
    phase('confirm');

    // ---- manifests and tags
    const mediaTypeOf = (m: ImageManifest) => m.mediaType ?? MediaType.OCI_MANIFEST;
    let digest: string;
    let mediaType: string;
    const platforms: PushedPlatform[] = [];
    if (base.images.length === 1 && !(platform === 'all' && base.index)) {
      const b = built[0]!;
      mediaType = mediaTypeOf(b.manifest);
      digest = '';
      for (const tag of uniqueTags) digest = await target.client.putManifest(target.repo, tag, b.bytes, mediaType);
      platforms.push({ platform: formatPlatform(b.img.platform), digest, configDigest: b.configDigest });
    } else {
      const children: Descriptor[] = [];
      for (const b of built) {
        const mt = mediaTypeOf(b.manifest);
        const d = await target.client.putManifest(target.repo, sha256Digest(b.bytes), b.bytes, mt);
        const entry: Descriptor = { mediaType: mt, digest: d, size: b.bytes.length, platform: b.img.indexEntry?.platform ?? b.img.platform };
        if (b.img.indexEntry?.annotations) entry.annotations = b.img.indexEntry.annotations;
        children.push(entry);
        platforms.push({ platform: formatPlatform(b.img.platform), digest: d, configDigest: b.configDigest });
      }
      const baseIndex: ImageIndex = base.index ?? { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
      const index = buildIndex(baseIndex, children);
      const bytes = serializeManifest(index);
      mediaType = index.mediaType ?? MediaType.OCI_INDEX;
      digest = '';
      for (const tag of uniqueTags) digest = await target.client.putManifest(target.repo, tag, bytes, mediaType);
    }
    phase('manifest');

    return {
      reference: `${toRef.registry}/${toRef.repository}@${digest}`,
      digest,
      mediaType,
      tags: uniqueTags,
      base: { reference: fromRef ? formatReference(fromRef) : 'scratch', digest: base.digest },
      platforms,
      layer: layerOut
        ? { digest: layerOut.result.digest, diffId: layerOut.result.diffId, size: layerOut.result.size, action: reusable ? 'reused' : layerOut.action, method: layerOut.method }
        : undefined,
      blobs,
      retries: retriesSeen.n,
      dryRun: false,
      timings,
      http: transport.stats.snapshot(),
    };
  } catch (err) {
    throw abortedOr(err, opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    transport.close();
  }
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
