/**
 * Getting each new layer to every target of a push: built and streamed once to the first target
 * that needs it; the others reuse it (the warm path found it), skip it (present), mount it (same
 * registry as a target that has it) or get a byte-identical re-production sent as one PUT with
 * the digest already known. A layer reused from a target's tag was compressed by an earlier push,
 * perhaps otherwise (another gzip level or version): a target without it gets a copy of that
 * blob from the target that has it, not a re-production, which would not match its digest.
 * Layers are independent: each goes through this on its own, a few at a time.
 */
import { hashLayer, type LayerOptions, type LayerResult } from '../layer/index.js';
import { layerMediaTypeFor, type MediaFamily } from '../image/mediatypes.js';
import { moveBlob } from '../transfer/blobs.js';
import { cancelUnused } from '../transfer/upload.js';
import type { UploadMethod } from '../registry/quirks.js';
import type { TargetSet, TransferTarget } from '../transfer/target-set.js';
import type { SpareSession } from '../transfer/spare-session.js';
import type { TransferContext } from '../transfer/types.js';
import { stoppedByBase, uploadLayer, type LayerUploadOutcome } from './layer-upload.js';
import type { LayerLabel } from './layer-label.js';
import type { ExtraTags } from './extra-tags.js';
import type { LayerHeadStart } from './layer-head-start.js';
import { LayerEvents } from './layer-events.js';
import type { PushTargetResult } from './options.js';

/** What push knows of the new layers (and the result) at one target. */
export interface TargetState {
  /** Per layer: the warm path found it at the target tag, so there is nothing to build or send. */
  reusable: (LayerResult | undefined)[];
  /** Digest of the manifest (or index) the --to tag held, when the warm path fetched it. */
  tagDigest?: string;
  /**
   * The warm path found the --to tag holding the very image the push would write (its digest and
   * media type): nothing is written there. An interruption before the commit stage (in another
   * target's transfer) reports the target ok from this (interruptedReport in report.ts).
   */
  held?: { digest: string; mediaType: string };
  /**
   * The push's other tags at this target (`--tag`), asked about with the tag's GET, once each
   * (extra-tags.ts): `digests()` says what each points at (undefined: absent or not told), and one
   * already on the digest is not written again (a dry run's plan says so).
   */
  extraTags?: Pick<ExtraTags, 'digests'>;
  /** Per layer: how it got there. */
  outcomes: (LayerUploadOutcome | undefined)[];
  /** What was written at the target. */
  result?: PushTargetResult;
  /**
   * Upload sessions opened ahead for this target, oldest first: while the tag was being asked
   * about, and again once the tag turned out to hold another image. The last one is for the first
   * layer built here; every one nobody took is cancelled at the end (releaseSpares in push.ts).
   */
  spares: SpareSession[];
  /**
   * An upload session for the config, opened as soon as the push is known to write here (the tag
   * is absent or holds another image): the config, composed once the base config has arrived, is
   * then PUT at once instead of after a HEAD ‖ POST round trip. Cancelled at the end if unused.
   */
  configSpare?: SpareSession;
  /**
   * Settles once it is known whether the push writes here: true when the tag is absent or holds
   * another image (as soon as that is known, before the tag's configs are read), false when the
   * tag holds the very image. The configs go out on it.
   */
  writes?: Promise<boolean>;
}

/** One layer to build, as uploadLayerEverywhere needs it. */
export interface LayerJob {
  options: LayerOptions;
  label: LayerLabel;
  /** Its build, started before the target answered (push.ts); the first upload of it sends it. */
  headStart?: LayerHeadStart;
  /**
   * A dependency layer: a `--layer` with a layer above it in every image that gets it (inputs.ts).
   * Such a layer rarely changes, and the repository often holds it although the tag's image does
   * not name it (the tag moved to another branch's image meanwhile, or each deploy pushes a new
   * tag with no `--tag` that holds the last one). So where no tag lends it, its digest is computed
   * first (gzip into sha256, nothing held, nothing sent) and asked for at each target, and it is
   * sent only where it is absent. The top layer (the code, new on every deploy) streams at once.
   */
  dependency?: boolean;
}

/** Layers built at once: each one's gzip already uses several cores, so two keep the pipes full without oversubscribing. */
export const LAYERS_AT_ONCE = 2;

/**
 * Every layer to every target; per layer its facts (undefined when every target failed first, or
 * when `needed` says no image gets it: a layer planned for an OS the base turned out to lack).
 * `family`: the family of the manifests written, for the layers' progress events (layer-events.ts).
 * `commitAfter`: no layer is committed at a target before it settles, none if it rejects (the base;
 * see LayerUploadOptions.commitAfter).
 */
export async function uploadLayersEverywhere(
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  jobs: readonly LayerJob[],
  ctx: TransferContext,
  family: Promise<MediaFamily>,
  method?: UploadMethod,
  needed?: (i: number) => Promise<boolean> | undefined,
  commitAfter?: Promise<unknown>,
): Promise<(LayerResult | undefined)[]> {
  const events = new LayerEvents(ctx, family);
  const out: (LayerResult | undefined)[] = new Array(jobs.length).fill(undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !ctx.signal?.aborted) {
      const i = next++;
      const wanted = needed?.(i);
      if (wanted && !(await wanted)) continue;
      out[i] = await uploadLayerEverywhere(set, states, i, jobs[i]!, ctx, events, method, commitAfter);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LAYERS_AT_ONCE, jobs.length) }, worker));
  return out;
}

/** Uploads layer `i` wherever it is missing; resolves with its facts (undefined when every target failed first). */
export async function uploadLayerEverywhere(
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  i: number,
  job: LayerJob,
  ctx: TransferContext,
  events: LayerEvents,
  method?: UploadMethod,
  commitAfter?: Promise<unknown>,
): Promise<LayerResult | undefined> {
  // Only a target still in the push lends its tag's blob: one set aside may be the registry that
  // stopped answering, and reading the blob from there would fail the others too; without a live
  // holder the layer is built afresh.
  let known: LayerResult | undefined = set.live.map((t) => states.get(t)!.reusable[i]).find(Boolean);
  // Every target's manifest names one digest per layer: a tag holding these files compressed
  // otherwise does not hold this blob, and gets it as a target without the layer does.
  const holders: TransferTarget[] = set.live.filter((t) => {
    const s = states.get(t)!;
    if (s.reusable[i] && s.reusable[i]!.digest !== known!.digest) {
      // Said, since this target's tag may have held the very image before (reuse.ts said so).
      const at = set.live.find((h) => states.get(h)!.reusable[i]?.digest === known!.digest)!;
      t.ep.client.logger.info(
        `${t.ref.registry}/${t.ref.repository}: ${job.label.name} holds the same files as ${at.ref.registry}/${at.ref.repository} ` +
          `compressed otherwise (${s.reusable[i]!.digest}, there ${known!.digest}); ` +
          'every target gets one blob per layer, so that one goes here and the tag is written again',
      );
      s.reusable[i] = undefined;
    }
    return s.reusable[i] !== undefined;
  });
  const fromTag = holders[0];
  // Once for every target: a target whose build failed sets itself aside, and the next meets the same failure.
  let digesting: Promise<LayerResult> | undefined;
  const digestFirst = job.dependency && !known ? () => (digesting ??= dependencyDigest(job, ctx, events)) : undefined;
  for (const t of set.list) {
    const state = states.get(t)!;
    if (t.failed || state.reusable[i]) continue;
    try {
      if (digestFirst) known ??= await digestFirst();
      const outcome = await layerTo(t, holders, job, ctx, events, method, known, state.spares.at(-1), fromTag, commitAfter);
      state.outcomes[i] = outcome;
      known ??= outcome.result;
      events.end(job.label, outcome, t);
      if (outcome.action !== 'uploaded') t.present.add(known.digest); // its HEAD (or mount) just answered
      else await set.confirm(t, known.digest);
      holders.push(t);
    } catch (err) {
      // The base failed, which the push reports: setting the target aside for it would stop the
      // run with this upload's own "not committed" instead, or warn of a target failing.
      if (stoppedByBase(err)) throw err;
      set.setAside(t, err);
    }
  }
  return known;
}

/**
 * The layer at one target: present, mounted from a holder in the same registry, or uploaded. Its
 * `start` event says which, as a base blob's does; a mount that falls back to sending the layer
 * says no second one (its bytes follow, as after a base blob's refused mount).
 */
async function layerTo(
  t: TransferTarget,
  holders: TransferTarget[],
  job: LayerJob,
  ctx: TransferContext,
  events: LayerEvents,
  method: UploadMethod | undefined,
  known: LayerResult | undefined,
  spare: SpareSession | undefined,
  fromTag: TransferTarget | undefined,
  commitAfter: Promise<unknown> | undefined,
): Promise<LayerUploadOutcome> {
  const done = (result: LayerResult, action: 'skipped' | 'mounted'): LayerUploadOutcome => ({ result, action, bytes: 0, retries: 0, method: 'none' });
  // A pass of the upload after one that said bytes (a restart, the PUT after its hash pass) starts again here.
  const newPass = (size: number | undefined): void => events.start(job.label, 'uploaded', size, t);
  if (!known) {
    events.start(job.label, 'uploaded', undefined, t);
    return uploadLayer(t.ep, job.options, ctx, { method, name: job.label, spare, headStart: job.headStart, commitAfter, newPass });
  }
  if ((await t.ep.client.headBlob(t.ep.repo, known.digest)) !== undefined) {
    events.start(job.label, 'skipped', known.size, t);
    return done(known, 'skipped');
  }
  const from = holders.find((h) => h.ref.registry === t.ref.registry);
  events.start(job.label, from ? 'mounted' : 'uploaded', known.size, t);
  if (from) {
    // A mount is only a shortcut: any failure sends the layer instead, whose requests meet (and report) an abort or a refusal again.
    const m = await t.ep.client.mountBlob(t.ep.repo, known.digest, from.ep.repo).catch(() => undefined);
    if (m?.mounted) return done(known, 'mounted');
    // Cancelled through the run's count, so a cancel the registry refuses is named with the others.
    if (m && !m.mounted) await cancelUnused(t.ep, m.uploadUrl, ctx);
  }
  if (fromTag) {
    // Those bytes exist only where the tag's push left them: read from there (GET → PUT). The
    // media type is not sent with a blob; the manifest's is chosen with the manifest.
    const desc = { mediaType: layerMediaTypeFor('oci'), digest: known.digest, size: known.size };
    const report = await moveBlob(desc, 'stream', fromTag.ep, t.ep, events.moving(job.label));
    return { result: known, action: 'uploaded', bytes: report.bytes, retries: report.retries, method: ctx.uploads.of(t.ep.client.registry).working ?? 'none' };
  }
  // Asked just now (the HEAD above): the first attempt does not ask again. A dependency layer whose
  // build ahead ended with these bytes sends them (dependencyDigest), not a second build.
  return uploadLayer(t.ep, job.options, ctx, { method, known, absent: true, name: job.label, headStart: job.headStart, commitAfter, newPass });
}

/**
 * A dependency layer's digest and facts, before anything of it is sent (LayerJob.dependency): its
 * build ahead, carried on to its end holding nothing more, or a hash pass of its own (tar, gzip
 * and sha256, the bytes let go). Either way the layer is as large as it likes: nothing is held
 * but a build ahead's output that ended within its bound. The pass has its progress events
 * (LayerEvents.digesting): a start before it, its bytes as they are made.
 */
async function dependencyDigest(job: LayerJob, ctx: TransferContext, events: LayerEvents): Promise<LayerResult> {
  ctx.transport.logger.debug(`${job.label.name}: a dependency layer no tag here names; its digest comes first, then each target is asked for it, and it is sent only where absent`);
  const ahead = job.headStart;
  if (!ahead?.running && ahead?.built) return ahead.built;
  const made = events.digesting(job.label);
  if (ahead?.running) return ahead.digest(made);
  return hashLayer({ ...job.options, signal: ctx.signal }, made);
}
