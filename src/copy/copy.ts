/**
 * copy(): promote an image as it is — same manifest bytes, same digests — to one or more targets.
 * Each source blob is read once and streamed to every target that lacks it; one failing target
 * does not stop or corrupt the others, and no target gets a manifest before all its blobs.
 */
import pLimit from 'p-limit';
import { abortedOr, ExistsError, PartialFailureError, RegistryError, RegpushError, UsageError } from '../errors.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Descriptor, Platform } from '../image/types.js';
import { silentLogger, type Logger } from '../log.js';
import { formatReference, manifestRef, parseReference, type ImageReference } from '../ref/reference.js';
import { connect, transportFor, type ConnectionOptions } from '../registry/connect.js';
import { largestFirst, moveBlobToMany, planBlob, type BlobEvents, type BlobReport, type PlanAction, type RepoEndpoint, type TransferContext } from '../transfer/blobs.js';
import type { HttpStats } from '../http/stats.js';
import { parseManifest } from '../image/manifest.js';
import { readGraph, type CopyGraph } from './graph.js';
import { findReferrers, listInFallbackIndex } from './referrers.js';
import { checkTag } from '../push/tags.js';

/** Options of copy(). */
export interface CopyOptions extends ConnectionOptions {
  /** Source reference (tag or digest); with allTags, a repository. */
  from: string;
  /** One or more targets; with allTags, repositories. */
  to: string[];
  /** Extra tags written at every target. */
  tags?: string[];
  /** "all" (default: keep the index and its digest) or a comma list of os/arch[/variant] for a new index. */
  platform?: string;
  /** Also copy signatures, attestations and SBOMs that refer to the image. */
  referrers?: boolean;
  /** Copy every tag of the source repository. */
  allTags?: boolean;
  /** Refuse to move a target tag that points at another digest. */
  noClobber?: boolean;
  /** Resolve and HEAD each blob at each target, report the plan; write nothing. */
  dryRun?: boolean;
  jobs?: number;
  logger?: Logger;
  events?: BlobEvents;
  retries?: number;
}

/** What happened at one target. */
export interface CopyTargetResult {
  /** "<target repo>@<digest>" when it succeeded. */
  reference: string;
  target: string;
  digest: string;
  tags: string[];
  ok: boolean;
  error?: { code: string; message: string };
  blobs: BlobReport[];
  referrers: number;
}

/** What copy() did. */
export interface CopyResult {
  source: { reference: string; digest: string };
  digest: string;
  mediaType: string;
  /** True when --platform made a new index, so the digest differs from the source's. */
  digestChanged: boolean;
  targets: CopyTargetResult[];
  /** For an index: each child's platform and digest (the same at every target). */
  platforms?: { platform: string; digest: string; mediaType: string }[];
  /** True when nothing was written (blob actions are `planned-*` or `skipped`). */
  dryRun: boolean;
  timings: Record<string, number>;
  /** Requests, retries and registry rate-limit headers (Docker Hub's `ratelimit-remaining`) seen. */
  http?: HttpStats;
}

interface Target {
  ref: ImageReference;
  ep: RepoEndpoint;
  result: CopyTargetResult;
  failed?: RegpushError;
}

/** Copies `from` to every target; rejects only when every target failed (else E_PARTIAL lists them). */
export async function copy(opts: CopyOptions): Promise<CopyResult> {
  const logger = opts.logger ?? silentLogger;
  if (!opts.to.length) throw new UsageError('copy needs at least one target');
  const srcRef = parseReference(opts.from);
  const dstRefs = opts.to.map((t) => parseReference(t));
  for (const d of dstRefs) if (d.digest) throw new UsageError(`copy target must be a tag or repository, not a digest: ${formatReference(d)}`);
  const extraTags = (opts.tags ?? []).map(checkTag);
  const platforms: Platform[] | undefined =
    !opts.platform || opts.platform === 'all' ? undefined : opts.platform.split(',').map((p) => parsePlatform(p.trim()));
  const jobs = opts.jobs ?? 4;
  const t0 = performance.now();
  const transport = transportFor({ ...opts, logger });
  try {
    const source: RepoEndpoint = { repo: srcRef.repository, client: connect(transport, srcRef.registry, 'from', [{ repo: srcRef.repository, actions: ['pull'] }], opts) };
    const targets: Target[] = dstRefs.map((ref) => ({
      ref,
      ep: {
        repo: ref.repository,
        client: connect(transport, ref.registry, 'to', [
          { repo: ref.repository, actions: ['pull', 'push'] },
          ...(ref.registry === srcRef.registry ? [{ repo: srcRef.repository, actions: ['pull' as const] }] : []),
        ], opts),
      },
      result: { reference: '', target: formatReference(ref), digest: '', tags: [], ok: false, blobs: [], referrers: 0 },
    }));
    const ctx: TransferContext = { transport, signal: opts.signal, events: opts.events, chunkSize: opts.chunkSize };

    const refs = opts.allTags ? (await source.client.listTags(srcRef.repository)).sort() : [manifestRef(srcRef)];
    if (opts.allTags && refs.length === 0) throw new RegistryError(`${srcRef.registry}/${srcRef.repository} has no tags`);
    // A loopback target's scheme probe overlaps reading the source graph instead of delaying the
    // first blob. Its failure is not handled here: the first real request reports it.
    for (const t of targets) t.ep.client.ready().catch(() => undefined);
    let first: CopyGraph | undefined;
    for (const ref of refs) {
      const graph = await readGraph(source.client, srcRef.repository, ref, platforms);
      first ??= graph;
      const tagsHere = opts.allTags ? [ref] : undefined;
      await copyGraph(graph, source, targets, ctx, jobs, opts, extraTags, tagsHere);
      if (opts.referrers) await copyReferrers(graph, source, targets, ctx, jobs, opts);
    }
    const result: CopyResult = {
      source: { reference: formatReference(srcRef), digest: first!.sourceDigest },
      digest: first!.top.digest,
      mediaType: first!.top.mediaType,
      digestChanged: first!.rewritten,
      targets: targets.map((t) => t.result),
      platforms: platformsOf(first!),
      dryRun: !!opts.dryRun,
      timings: { total: Math.round(performance.now() - t0) },
      http: transport.stats.snapshot(),
    };
    const failed = targets.filter((t) => t.failed);
    if (failed.length === targets.length) throw failed[0]!.failed;
    if (failed.length) {
      throw new PartialFailureError(
        `${failed.length} of ${targets.length} targets failed: ${failed.map((t) => `${t.result.target} (${t.failed!.code}: ${t.failed!.message})`).join('; ')}`,
        { details: { result, failed: failed.map((t) => t.result.target) } },
      );
    }
    return result;
  } catch (err) {
    throw abortedOr(err, opts.signal);
  } finally {
    transport.close();
  }
}

function markFailed(t: Target, err: unknown): void {
  if (t.failed) return;
  const e = err instanceof RegpushError ? err : new RegpushError('E_INTERNAL', String((err as Error)?.message ?? err), { cause: err });
  t.failed = e;
  t.result.ok = false;
  t.result.error = { code: e.code, message: e.message };
}

/** Throws E_REGISTRY when the target does not have `digest`, which it has just accepted. */
async function confirmBlob(ep: RepoEndpoint, digest: string, target: string): Promise<void> {
  if ((await ep.client.headBlob(ep.repo, digest)) === undefined) throw new RegistryError(`blob ${digest} missing at ${target} after upload; no manifest written`);
}

async function copyGraph(graph: CopyGraph, source: RepoEndpoint, targets: Target[], ctx: TransferContext, jobs: number, opts: CopyOptions, extraTags: string[], tagsOverride?: string[], record = true): Promise<void> {
  const live = () => targets.filter((t) => !t.failed);
  const tagsFor = (t: Target) => tagsOverride ?? [...new Set([...(t.ref.tag ? [t.ref.tag] : ['latest']), ...extraTags])];
  // --no-clobber: a tag that exists and points elsewhere stops that target before any write.
  if (opts.noClobber) {
    await Promise.all(
      live().map(async (t) => {
        for (const tag of tagsFor(t)) {
          try {
            const head = await t.ep.client.headManifest(t.ep.repo, tag);
            if (head?.digest && head.digest !== graph.top.digest) {
              throw new ExistsError(`${t.ref.registry}/${t.ref.repository}:${tag} already points at ${head.digest} (--no-clobber)`);
            }
          } catch (err) {
            markFailed(t, err);
          }
        }
      }),
    );
  }
  const limit = pLimit(jobs);
  if (opts.dryRun) {
    // The plan only: HEAD every blob at every target; no POST, PATCH or PUT anywhere.
    await Promise.all(
      graph.blobs.map((d) =>
        limit(() =>
          Promise.all(
            live().map(async (t) => {
              try {
                t.result.blobs.push(plannedReport(d, await planBlob(d, source, t.ep)));
              } catch (err) {
                markFailed(t, err);
              }
            }),
          ),
        ),
      ),
    );
    if (!record) return;
    for (const t of live()) {
      t.result.ok = true;
      t.result.digest = graph.top.digest;
      t.result.reference = `${t.ref.registry}/${t.ref.repository}@${graph.top.digest}`;
      t.result.tags.push(...tagsFor(t));
    }
    return;
  }
  await Promise.all(
    largestFirst(graph.blobs).map((d) =>
      limit(async () => {
        const ts = live();
        if (!ts.length) return;
        const results = await moveBlobToMany(d, source, ts.map((t) => t.ep), ctx);
        await Promise.all(
          results.map(async (r, i) => {
            const t = ts[i]!;
            if (r.status !== 'fulfilled') return markFailed(t, r.reason);
            t.result.blobs.push(r.value);
            try {
              // Every blob this target did not skip must be there before any manifest is written
              // (REGISTRY-QUIRKS: Aliyun). Confirmed as soon as it lands, so the HEADs overlap the
              // blobs still moving instead of following the last one.
              if (r.value.action !== 'skipped') await confirmBlob(t.ep, d.digest, t.result.target);
            } catch (err) {
              markFailed(t, err);
            }
          }),
        );
      }),
    ),
  );
  await Promise.all(
    live().map(async (t) => {
      try {
        for (const c of graph.children) await t.ep.client.putManifest(t.ep.repo, c.digest, c.bytes, c.mediaType);
        const tags = tagsFor(t);
        for (const tag of tags) await t.ep.client.putManifest(t.ep.repo, tag, graph.top.bytes, graph.top.mediaType);
        // No tag (a referrer found through the referrers API): stored by digest, found via its subject.
        if (!tags.length) await t.ep.client.putManifest(t.ep.repo, graph.top.digest, graph.top.bytes, graph.top.mediaType);
        if (!record) return;
        t.result.ok = true;
        t.result.digest = graph.top.digest;
        t.result.reference = `${t.ref.registry}/${t.ref.repository}@${graph.top.digest}`;
        t.result.tags.push(...tags);
      } catch (err) {
        markFailed(t, err);
      }
    }),
  );
}

async function copyReferrers(graph: CopyGraph, source: RepoEndpoint, targets: Target[], ctx: TransferContext, jobs: number, opts: CopyOptions): Promise<void> {
  const found = await findReferrers(source.client, source.repo, graph.sourceDigest);
  for (const r of found) {
    const ref = r.kind === 'digest' ? r.digest : r.tag;
    const g = await readGraph(source.client, source.repo, ref);
    const live = targets.filter((t) => !t.failed);
    await copyGraph(g, source, live, ctx, jobs, { ...opts, noClobber: false }, [], r.kind === 'tag' ? [r.tag] : [], false);
    for (const t of live) {
      if (t.failed) continue;
      // Found through the referrers API: a target without that API needs the fallback tag index.
      if (r.kind === 'digest') await listInFallbackIndex(t.ep, graph.sourceDigest, g.top).catch((e: unknown) => markFailed(t, e));
      if (!t.failed) t.result.referrers++;
    }
  }
}

function plannedReport(d: Descriptor, plan: PlanAction): BlobReport {
  const action = plan === 'skip' ? 'skipped' : plan === 'foreign' ? 'foreign' : plan === 'mount' ? 'planned-mount' : 'planned-stream';
  return { digest: d.digest, size: d.size, mediaType: d.mediaType, action, bytes: 0, retries: 0, resumes: 0 };
}

/** Platforms of an index's children, for the report; undefined for a single image. */
function platformsOf(graph: CopyGraph): CopyResult['platforms'] {
  try {
    const p = parseManifest(graph.top.bytes, graph.top.mediaType);
    if (p.kind !== 'index') return undefined;
    return p.index.manifests.map((m) => ({ platform: m.platform ? formatPlatform(m.platform) : 'unknown', digest: m.digest, mediaType: m.mediaType }));
  } catch {
    return undefined;
  }
}
