/**
 * copy(): promote an image as it is — same manifest bytes, same digests — to one or more targets.
 * Each source blob is read once and streamed to every target that lacks it; one failing target
 * does not stop or corrupt the others, no target gets a manifest before all its blobs, and a
 * target that already holds the image under every tag is not written at all. With --all-tags the
 * source's tags go --images at a time (all-tags.ts).
 */
import { AbortedError, InvalidReferenceError, NotFoundError, UsageError } from '../errors.js';
import { parseFormat } from '../image/convert.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Platform } from '../image/types.js';
import { parseManifest } from '../image/manifest.js';
import { isIndexMediaType } from '../image/mediatypes.js';
import { checkTag, digestReference, formatReference, manifestRef, parseReferenceAs, type ImageReference } from '../ref/reference.js';
import { checkOptions, STRINGS, type Shape } from '../options-check.js';
import { optionPaths, type OptionNames } from '../option-names.js';
import { CONNECTION_SHAPE } from '../registry/connection-shape.js';
import { anchorPaths } from '../registry/working-directory.js';
import { checkImages, checkJobs } from '../transfer/concurrency.js';
import { TransferRun } from '../transfer/engine.js';
import { checkConnectionRanges } from '../registry/limits.js';
import { TargetSet, type TransferTarget } from '../transfer/target-set.js';
import { CallerCallbacks } from '../transfer/callbacks.js';
import { oneTargetPerRepository } from '../transfer/target-list.js';
import { PROGRESS_EVENTS_SHAPE } from '../transfer/types.js';
import type { CopyOptions, CopyResult, CopyTargetReport } from './options.js';
import { copyImage, warnAlikeOnce } from '../transfer/image-copy.js';
import { newImageCopyOutcome, referrersAt, type ImageCopyOptions, type ImageCopyOutcome } from '../transfer/image-copy-types.js';
import { copyTags, tagCopy, type TagAtTarget, type TagCopy } from './all-tags.js';
import { isReferrerTag } from '../transfer/referrers.js';
import { scrubbedRejections } from '../redact.js';

/**
 * CopyOptions as a plain-JS caller must give them (options-check.ts). `to` is a list even for one target.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const COPY_SHAPE = {
  fields: {
    ...CONNECTION_SHAPE,
    from: 'string',
    to: STRINGS,
    tags: STRINGS,
    platform: 'string',
    format: 'string',
    referrers: 'boolean',
    allTags: 'boolean',
    images: 'number',
    noClobber: 'boolean',
    dryRun: 'boolean',
    jobs: 'number',
    events: { fields: PROGRESS_EVENTS_SHAPE },
  },
  required: ['from', 'to'],
} satisfies Shape;

/** Copies `from` to every target; rejects only when every target failed (else E_PARTIAL lists them). */
export async function copy(given: CopyOptions): Promise<CopyResult> {
  return scrubbedRejections(given, (opts) => copyAs(opts, COPY_NAMES));
}

/** What copy()'s messages call its options: their paths (`copy(): allTags`, `format: "oci"`). */
const COPY_NAMES = optionPaths('copy()');

/**
 * copy() for a caller whose messages name the options its own way (`names`): the CLI, whose
 * messages name its flags (src/cli/commands/copy.ts). Not part of the library's surface.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export async function copyAs(given: CopyOptions, names: OptionNames): Promise<CopyResult> {
  // The caller's callbacks go through one guard (transfer/callbacks.ts): a throw there stops the
  // copy, and the copy rejects with that error; any other failure, the checks' included, is a RegpushError.
  const callbacks = new CallerCallbacks();
  return callbacks.around(() => {
    checkOptions('copy()', given, COPY_SHAPE);
    const anchored = anchorPaths(given); // relative paths (TLS files, env's path variables) taken in the `cwd` option
    return copyChecked({ ...anchored, events: callbacks.guard(given.events, COPY_EVENTS) }, callbacks, names);
  }, 'copy');
}

/** The callbacks copy() calls (COPY_SHAPE's `events`). */
const COPY_EVENTS = Object.keys(COPY_SHAPE.fields.events.fields);

/** copy() once its options' shape is checked and its callbacks guarded. */
async function copyChecked(opts: CopyOptions, callbacks: CallerCallbacks, names: OptionNames): Promise<CopyResult> {
  if (!opts.to.length) throw new UsageError(names.op === undefined ? 'copy needs at least one target' : `${names.about('to')} must name at least one target`);
  const srcRef = parseReferenceAs(opts.from, opts.connectionNames);
  // With --all-tags a target is a repository: named without the `latest` a reference defaults to
  // (each tag is written under its own name), in the report and in its errors.
  if (opts.allTags) {
    // Every tag goes under its own name: a tag given with a repository would be silently unused.
    for (const t of [opts.from, ...opts.to]) {
      if (t.slice(t.lastIndexOf('/') + 1).includes(':')) throw new InvalidReferenceError(`${names.about('allTags')} copies every tag under its own name: give repositories, not ${t}`);
    }
    // The same for --tag: every tag's image would be written under it in turn, the last one winning.
    if (opts.tags?.length) throw new UsageError(`${names.about('allTags')} copies every tag under its own name: ${names.name('tags', opts.tags[0])} cannot go with it`);
  }
  const dstRefs = opts.to.map((t) => parseReferenceAs(t, opts.connectionNames)).map((r): ImageReference => (opts.allTags && !r.digest ? { registry: r.registry, repository: r.repository } : r));
  for (const d of dstRefs) if (d.digest) throw new InvalidReferenceError(`${names.about('to')} must name a tag or a repository, not a digest: ${formatReference(d)}`);
  const extraTags = (opts.tags ?? []).map(checkTag);
  const platforms: Platform[] | undefined =
    // A blank value is refused by parsePlatform, as digestOf and push refuse it: read as absent,
    // `--platform "$UNSET"` copied every platform where one was asked for.
    opts.platform === undefined || opts.platform === 'all' ? undefined : opts.platform.split(',').map((p) => parsePlatform(p.trim(), names.op && names.about('platform')));
  const format = opts.format === undefined ? undefined : parseFormat(opts.format, names.about('format'));
  if (opts.images !== undefined && !opts.allTags) {
    throw new UsageError(`${names.about('images')} is the number of tags copied at once with ${names.name('allTags')}; a single image's blob transfers are ${names.name('jobs')}`);
  }
  const images = opts.allTags ? checkImages(opts.images, names.about('images')) : 1;
  checkJobs(opts.jobs, names.about('jobs'));
  checkConnectionRanges(opts, (o) => names.about(o));
  const t0 = performance.now();
  // Tags copied at once must not upload one blob into one repository twice: the run records the
  // landings (in its own repository only: the tee already reads each blob once for all targets).
  // A dry run writes nothing, so there is nothing to wait for.
  const run = new TransferRun({ ...opts, trackLanded: opts.allTags && !opts.dryRun ? 'same-repository' : undefined, callbacks, formatNames: names });
  const set = run.targets(oneTargetPerRepository(dstRefs, (ref) => [ref.tag ?? 'latest', ...extraTags]), srcRef);
  const results = new Map<TransferTarget, CopyTargetReport>(
    set.list.map((t) => [
      t,
      { reference: '', target: formatReference(t.ref), digest: '', tags: [], ok: false, blobs: t.blobs, referrers: 0, referrersSkipped: 0 },
    ]),
  );
  // A single image's outcome (with --all-tags, the first tag's), filled as it is copied: an
  // interruption's report reads what was resolved by then.
  const read = newImageCopyOutcome();
  // With --all-tags, the first tag in sorted order (the one `read` is filled for), once listed.
  let firstTag: string | undefined;
  try {
    const source = run.source(srcRef);
    // Through the run's memory: --referrers looks for cosign's tags in the same list, once, not once per tag.
    // A tag left out is warned of as copy's other lines are, unlabelled: the line names the one source repository.
    const listed = opts.allTags ? await run.ctx.repos.tagList(source, (m) => run.logger.warn(m)) : [];
    // With --referrers the fallback and cosign tags come with the images they refer to (isReferrerTag).
    const refs = opts.allTags ? listed.filter((t) => !(opts.referrers && isReferrerTag(t))).sort() : [manifestRef(srcRef)];
    if (opts.allTags && refs.length === 0) {
      const only = listed.length > 0 ? ` other than referrers' (sha256-<hex>, .sig, .att, .sbom), which ${names.name('referrers')} copies with the images they refer to` : '';
      throw new NotFoundError(`${srcRef.registry}/${srcRef.repository} has no tags${only}`);
    }
    // A loopback target's scheme probe overlaps reading the source instead of delaying the first
    // blob. Its failure is not handled here: the first real request reports it.
    for (const t of set.list) t.ep.client.ready().catch(() => undefined);
    // The report's platforms come from the top manifest: a single image named by digest has it read where a target holds it (readHeldTop).
    const imageOpts: ImageCopyOptions = {
      platforms,
      format,
      log: (m) => opts.logger?.info(m),
      warn: (m) => opts.logger?.warn(m),
      referrers: opts.referrers,
      noClobber: opts.noClobber,
      dryRun: opts.dryRun,
      names,
      readHeldTop: !opts.allTags,
    };
    // --all-tags with --format or --platform, or a target refusing a kind of referrer: every tag's referrers stay behind alike (said once).
    if (opts.allTags) imageOpts.warnAlike = warnAlikeOnce(run, 'tag');
    let copied: TagCopy[];
    if (opts.allTags) {
      firstTag = refs[0];
      copied = await copyTags(run, set, source, srcRef, refs, images, imageOpts, read);
    }
    else {
      const outcome = await copyImage(set, source, refs[0]!, imageOpts, read);
      copied = [tagCopy(refs[0]!, outcome, new Map(set.live.map((t) => [t, t])))];
    }
    // In tag order (sorted), whatever order the tags ended in: the report is the same run to run.
    for (const { tag, digest, at } of copied) {
      for (const [t, got] of at) {
        t.blobs.push(...got.blobs);
        if (!got.failed) record(results.get(t)!, t, digest, got, opts.allTags ? [tag] : t.tags);
      }
    }
    // The first tag starts before any target can have failed: its outcome is always there (the
    // first tag copied keeps its whole outcome, copyTags).
    const first = copied[0]!.outcome!;
    // With --all-tags the source is a repository, whose parsed reference carries the `latest` a
    // name without a tag defaults to (a tag it may not have): the digest is the first tag's, so is the name.
    const sourceRef = opts.allTags ? { registry: srcRef.registry, repository: srcRef.repository, tag: copied[0]!.tag } : srcRef;
    const result: CopyResult = {
      source: { reference: formatReference(sourceRef), digest: first.sourceDigest, ...(first.sourceMirror ? { mirror: first.sourceMirror } : {}) },
      digest: first.digest,
      mediaType: first.mediaType,
      // An unchanged subset (its index found at the targets, the graph not read) has a digest of its own too.
      digestChanged: first.graph?.rewritten ?? first.digest !== first.sourceDigest,
      targets: set.list.map((t) => finalTargetResult(results.get(t)!, t)),
      // An unchanged re-run read the top manifest only where a GET costs no pull (outcome.top):
      // its platforms come from it then. An unchanged subset's come from its index as read at the
      // target. Behind a HEAD, or with the source named by digest (not asked), from the index
      // as a target that holds it has it (heldPlatforms).
      platforms: first.graph ? platformsOf(first.graph.top) : first.written ? platformsOf(first.written) : first.top ? platformsOf(first.top) : await heldPlatforms(first),
      dryRun: !!opts.dryRun,
      timings: { total: Math.round(performance.now() - t0) },
      http: run.transport.stats.snapshot(),
    };
    const failure = set.outcome('targets', result);
    if (failure) throw failure;
    return result;
  } catch (err) {
    // Nothing still running serves the copy any more (a blob started early, while a later plan
    // failed): it stops now and its session is cancelled, instead of landing a blob no manifest names.
    run.stop(err);
    await run.settle();
    const failure = run.failure(err);
    // Interrupted: a target may hold its tags by now (written, or a PUT whose answer the abort cut
    // off), so the error says what each target holds, as an E_PARTIAL's report does.
    if (failure instanceof AbortedError) Object.assign(failure.details, interruptedReport(set, srcRef, results, opts, run, t0, read, firstTag));
    throw failure;
  } finally {
    set.finish();
    run.close();
  }
}

/**
 * The details an interrupted copy's error carries: its report (`result`), each target as the
 * interruption left it (TargetSet.interruptedAt), and `failed`, the targets that do not hold every
 * tag. A target the no-op check found holding the image under every tag (`read.unchanged`) holds
 * it still: ok, nothing written. The source's digest and media type are what was read of it by
 * then (`read`: a single image's outcome so far; with --all-tags the first tag's, `firstTag`,
 * which the source is then named by), '' where nothing was. With --all-tags no target is ok (the
 * tags not copied yet are not known to be held); its `tags` are those written before the
 * interruption (or found holding their image), which its error names.
 */
function interruptedReport(
  set: TargetSet,
  srcRef: ImageReference,
  results: Map<TransferTarget, CopyTargetReport>,
  opts: CopyOptions,
  run: TransferRun,
  t0: number,
  read: ImageCopyOutcome,
  firstTag: string | undefined,
): { result: CopyResult; failed: string[] } {
  const targets = set.list.map((t): CopyTargetReport => {
    const unchanged = !opts.allTags && read.unchanged.has(t) ? t.tags : (t.tagsUnchanged ?? []);
    const { ok, written, error } = TargetSet.interruptedAt(t, opts.allTags ? undefined : t.tags, unchanged);
    const r = results.get(t)!;
    if (!ok) return { ...r, ok: false, reference: '', digest: '', tags: opts.allTags ? [...written, ...unchanged] : written, error };
    // ok: every tag was written or held the image already (never with --all-tags: no list of tags).
    // Its referrers as the walk had counted them when the signal came (sync's interrupted report reads the same).
    const digest = t.digestWritten ?? read.digest;
    return {
      ...r,
      ok: true,
      reference: digestReference(t.ref, digest),
      digest,
      tags: [...t.tags],
      ...(unchanged.length ? { tagsUnchanged: [...unchanged] } : {}),
      ...referrersAt(read, t),
    };
  });
  // With --all-tags the source is named by its first tag, as a finished copy's report names it.
  const sourceRef = opts.allTags && firstTag !== undefined ? { registry: srcRef.registry, repository: srcRef.repository, tag: firstTag } : srcRef;
  const result: CopyResult = {
    source: { reference: formatReference(sourceRef), digest: read.sourceDigest, ...(read.sourceMirror ? { mirror: read.sourceMirror } : {}) },
    digest: targets.find((t) => t.ok)?.digest ?? '',
    mediaType: read.mediaType,
    digestChanged: !!read.sourceDigest && (read.graph?.rewritten ?? read.digest !== read.sourceDigest),
    targets,
    dryRun: !!opts.dryRun,
    timings: { total: Math.round(performance.now() - t0) },
    http: run.transport.stats.snapshot(),
  };
  return { result, failed: targets.filter((t) => !t.ok).map((t) => t.target) };
}

/** Adds what one image (`digest`, written under `tags`) did at `t` to its result. */
function record(r: CopyTargetReport, t: TransferTarget, digest: string, got: TagAtTarget, tags: string[]): void {
  r.ok = true;
  // With --all-tags the first tag's (in sorted order), as the copy's own digest and --digest-file:
  // the later tags' digests are in the report under their tags' images, not here.
  if (!r.digest) {
    r.digest = digest;
    r.reference = digestReference(t.ref, digest);
  }
  r.tags.push(...tags);
  // All its tags when the image was there already; else those that held it, not written again (a copy adding a --tag).
  const held = got.unchanged ? tags : got.tagsHeld;
  if (held.length) (r.tagsUnchanged ??= []).push(...held);
  r.referrers += got.referrers;
  r.referrersSkipped += got.skippedReferrers.length;
  if (got.skippedReferrers.length) (r.skippedReferrers ??= []).push(...got.skippedReferrers);
}

function finalTargetResult(r: CopyTargetReport, t: TransferTarget): CopyTargetReport {
  if (!t.failed) return t.writeNotChecked ? { ...r, writeNotChecked: t.writeNotChecked } : r;
  // Nothing to name for a target that failed (the schema's "" when not ok), even where some tags of --all-tags landed first.
  return { ...r, ok: false, reference: '', digest: '', error: TargetSet.summary(t) };
}

/**
 * The platforms of an image every target held, whose manifest the copy did not read (its source
 * HEADed where pulls count, or named by digest and not asked): from the index as a target that
 * holds it has it, the same bytes under the same digest, read where a GET costs no pull. So an
 * unchanged copy reports the platforms a copy that writes does. Undefined for a single image (the
 * HEAD's type says so, no GET), where every holder counts pulls (a Docker Hub target: the field is
 * not worth one), and where that read fails: the report is then short of a field, not the copy
 * failed for it.
 */
async function heldPlatforms(outcome: ImageCopyOutcome): Promise<CopyResult['platforms']> {
  if (outcome.mediaType && !isIndexMediaType(outcome.mediaType)) return undefined;
  // Read already, with the no-op check (readHeldTop: a source named by digest) or for the referrers' children: the same bytes, under the same digest.
  if (outcome.heldTop) return platformsOf(outcome.heldTop);
  const holder = [...outcome.unchanged].find((t) => !t.failed && t.ep.client.countsPulls?.(t.ep.repo) !== true);
  if (!holder || !outcome.digest) return undefined;
  // The copy is done by now: a failed read (an abort or refusal included) costs the report its field, as said above, not the result.
  const there = await holder.ep.client.getManifest(holder.ep.repo, outcome.digest).catch(() => undefined);
  return there && platformsOf(there);
}

/** Platforms of an index's children, for the report; undefined for a single image. */
function platformsOf(top: { bytes: Buffer; mediaType: string }): CopyResult['platforms'] {
  try {
    const p = parseManifest(top.bytes, top.mediaType);
    if (p.kind !== 'index') return undefined;
    return p.index.manifests.map((m) => ({ platform: m.platform ? formatPlatform(m.platform) : 'unknown', digest: m.digest, mediaType: m.mediaType }));
  } catch {
    return undefined;
  }
}
