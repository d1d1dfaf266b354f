/**
 * push(): base image + new layers (each --layer, then the app layer) + rewritten config → one or
 * more targets, in the base's media-type family or the one --format names.
 *
 *   inputs   → every flag checked before the first request (an empty --layer included)
 *   resolve  → the base manifest(s) and config(s), converted to the output family; meanwhile each
 *              target says what its tag holds (the warm path: per layer, reuse by diffID) and
 *              the layers that changed start uploading as soon as that is known
 *   plan     → per base blob and target: skip / mount / stream / foreign (the transfer engine)
 *   transfer → base blobs moved (one read for all targets) while the layers finish
 *   compose  → configs, manifests and the index (pure, the same bytes for every target); each
 *              platform gets the shared layers and those qualified for it
 *   commit   → configs uploaded, every blob confirmed, then manifests and tags
 *
 * Nothing reaches the local disk; no manifest is written unless every blob it names is in place.
 * The inputs are checked in inputs.ts, the compose stage is compose-stage.ts (pure), the report
 * report.ts; this file runs the stages and decides what starts when. What is not push's own
 * decision (targets, plans, moves, confirmation, set-aside, partial failure) lives in the
 * transfer engine (src/transfer/engine.ts), shared with copy and sync.
 */
import { AbortedError } from '../errors.js';
import { sha256Digest } from '../image/digest.js';
import { MediaType, type MediaFamily } from '../image/mediatypes.js';
import { formatPlatform } from '../image/platform.js';
import type { Descriptor, ImageManifest, Platform } from '../image/types.js';
import { computeDiffId, firstChurningFile, type LayerResult } from '../layer/index.js';
import { silentLogger } from '../log.js';
import { digestReference } from '../ref/reference.js';
import { ensureBytesBlob } from '../transfer/bytes-blob.js';
import { SpareSession } from '../transfer/spare-session.js';
import { TransferRun } from '../transfer/engine.js';
import type { ManifestToWrite } from '../transfer/manifest-commit.js';
import { TargetSet, type TransferTarget } from '../transfer/target-set.js';
import { oneTargetPerRepository } from '../transfer/target-list.js';
import type { RepoEndpoint } from '../transfer/types.js';
import { anchorPaths } from '../registry/working-directory.js';
import { composeConfigs, composeStage, layersFor, topDigestOf, usedLayers, warnUnsetEnv, type Composed, type EarlyConfigs } from './compose-stage.js';
import { checkInputs, PUSH_SHAPE, tagRule, type LayerPlan, type PushEntry, type PushInputs } from './inputs.js';
import { checkOptions } from '../options-check.js';
import { optionPaths, type OptionNames } from '../option-names.js';
import { CallerCallbacks } from '../transfer/callbacks.js';
import { LAYERS_AT_ONCE, uploadLayersEverywhere, type TargetState } from './layer-everywhere.js';
import { HEAD_START_BYTES, LayerHeadStart } from './layer-head-start.js';
import { SMALL_LAYER_BYTES } from './layer-upload.js';
import type { PushOptions, PushResult } from './options.js';
import { allFailed, dryRunReport, finalReport, interruptedReport } from './report.js';
import { resolveBase, scratchBase, type ResolvedBase } from './resolve.js';
import { checkBase, checkWindowsVariants, uniquePlatforms } from './base-checks.js';
import { DiffIdBoard } from './diffid-board.js';
import { ExtraTags, tagsHolding } from './extra-tags.js';
import { findReusableLayers, once, type DiffIdOf, type LayerHistory, type SameImageCheck } from './reuse.js';
import { scrubbedRejections } from '../redact.js';

/** What resolve found, and the warm-path facts per target. */
interface Resolved {
  /** The base, already in the output family. */
  base: ResolvedBase;
  /** The base's own family (before --format). */
  baseFamily: MediaFamily;
  /** Distinct base layers, in manifest order. */
  baseBlobs: Descriptor[];
  /** The new layers' uploads, started as soon as every target said what its tag holds. */
  layerUploads: Promise<(LayerResult | undefined)[]>;
}

/**
 * What the transfer starts with: the base blobs, known from the base manifest before its config has
 * been read (a single-image base), and every target's answer about its tag. The rest follows.
 */
interface Front {
  baseBlobs: Descriptor[];
  resolved: Promise<Resolved>;
  /** The configs, sent per target as soon as the base, the diffIDs and the target's tag allow (none in a dry run). */
  early?: EarlyConfigsSent;
  /** Settles once the warm path has said, at every target, why a layer was not reused (ReuseFound.explained). Never rejects. */
  explained: Promise<void>;
}

/**
 * Builds and pushes an image; see PushOptions. With several targets (`to` as a list) each base
 * blob is read once and streamed to every target that lacks it, each new layer is built once per
 * registry that needs it, and one failing target does not stop the others (E_PARTIAL).
 */
export async function push(given: PushOptions): Promise<PushResult> {
  return scrubbedRejections(given, (opts) => pushAs(opts, PUSH_NAMES, LIBRARY_ENTRY));
}

/** What push()'s messages call its options: their paths (`push(): to`, `format: "oci"`). */
const PUSH_NAMES = optionPaths('push()');

/** push() has said nothing before the push runs: the checks warn its logger of what the CLI says itself. */
const LIBRARY_ENTRY: PushEntry = { ignoreWarned: false };

/**
 * push() for a caller whose messages name the options its own way (`names`): the CLI, whose
 * messages name its flags (src/cli/commands/push.ts), and which says `entry` what it has done
 * already (its own warnings). Not part of the library's surface.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export async function pushAs(given: PushOptions, names: OptionNames, entry: PushEntry): Promise<PushResult> {
  // The caller's callbacks go through one guard (callbacks.ts): a throw there stops the push, and
  // the push rejects with that error; any other failure, the checks' included, is a RegpushError.
  const callbacks = new CallerCallbacks();
  return callbacks.around(() => {
    // Plain-JS callers first: a wrong type would otherwise be misread by the checks that follow.
    checkOptions('push()', given, PUSH_SHAPE);
    return pushChecked({ ...given, events: callbacks.guard(given.events, PUSH_EVENTS) }, callbacks, names, entry);
  }, 'push');
}

/** The callbacks push() calls (PUSH_SHAPE's `events`). */
const PUSH_EVENTS = Object.keys(PUSH_SHAPE.fields.events.fields);

/** push() once its options' shape is checked and its callbacks guarded. */
async function pushChecked(guarded: PushOptions, callbacks: CallerCallbacks, names: OptionNames, entry: PushEntry): Promise<PushResult> {
  const inputs = await checkInputs(guarded, names, entry);
  // Relative paths of the options (TLS files, env's path variables) taken in the same directory as the layers' sources.
  const opts = anchorPaths(guarded, inputs.cwd);
  const timings: Record<string, number> = {};
  const clock = phaseClock(timings, opts.events?.phase);
  const run = new TransferRun({ ...opts, jobs: inputs.jobs, logger: opts.logger ?? silentLogger, callbacks, formatNames: names });
  const tagsOf = tagRule(opts.tags);
  // One target: its first failure stops the push at once (the layer upload is cancelled). One
  // target per repository: `--to X:1 --to X:2` uploads each blob there once and writes both tags.
  const set = run.targets(oneTargetPerRepository(inputs.toRefs, tagsOf), inputs.fromRef, { stopRun: true });
  const states = new Map<TransferTarget, TargetState>(set.list.map((t) => [t, { reusable: [], outcomes: [], spares: [] }]));
  const headStarts: LayerHeadStart[] = [];
  let front: Front | undefined;
  try {
    const source = inputs.fromRef ? run.source(inputs.fromRef) : undefined;
    const board = new DiffIdBoard(inputs.layers.length);
    const layered = startLayersEarly(set, source, withDiffIdBoard(inputs, board), run.signal, opts.dryRun);
    for (const l of layered.layers) if (l.headStart) headStarts.push(l.headStart);
    front = await resolveStage(run, set, states, source, layered, opts, board);
    clock('resolve');
    // No blob is written before every file of the new layers is known to open (the walk ran
    // alongside the resolve): a file that cannot be read ends the push with nothing committed.
    await inputs.readable;
    // Planned and started while the base config may still be on its way: the blobs need only the manifest.
    if (source) await set.plan(source, front.baseBlobs);
    clock('plan');
    if (opts.dryRun) {
      const planned = await dryRunReport(run, set, states, await front.resolved, inputs, opts, timings);
      await front.explained;
      return planned;
    }

    const moving = source && !run.signal.aborted ? set.transfer(source, front.baseBlobs) : Promise.resolve();
    moving.catch(() => undefined); // awaited in transferStage; a failed resolve must not leave it unhandled
    const resolved = await front.resolved;
    const early = front.early!;
    const layers = await transferStage(run, moving, resolved, early.sent);
    // Every target set aside: the first one's error is the push's (as one target's alone would
    // be), each target's failure in its details.result. Composing would only compare the layers
    // announced with none built.
    if (set.live.length === 0) throw allFailed(run, set, states, resolved, inputs, timings, false);
    // A spare nobody took (every layer was reused, or mounted from another target) is cancelled
    // while the manifests are written; the push ends once the registry has answered.
    const released = releaseSpares(states);
    clock('transfer');
    const composed = composeStage(resolved.base, layers, inputs, opts, await early.configs);
    await commitStage(set, states, composed, clock);
    await released;
    // Said by now: the walk that may name a changed layer's cause ran beside its upload.
    await front.explained;
    return finalReport(run, set, states, resolved, layers, inputs, timings);
  } catch (err) {
    // Everything still running stops now: a layer upload in the background would otherwise open
    // a session after the spares were cancelled, and leave it.
    run.stop(err);
    await releaseSpares(states);
    await run.settle();
    await front?.explained; // stopped with the run (its signal): nothing said after the push has ended
    const failure = run.failure(err);
    // Interrupted: a target may hold its tags by now (written, or a PUT whose answer the abort cut
    // off), so the error says what each target holds, as an E_PARTIAL's report does.
    if (failure instanceof AbortedError) Object.assign(failure.details, await interruptedReport(run, set, states, inputs, timings));
    throw failure;
  } finally {
    for (const h of headStarts) h.drop(); // a build nobody took (the tag held it, or the push failed)
    set.finish();
    run.close();
  }
}

/** True where the new layers are what a push to `t` waits for: no base, or a base in t's registry (mounted, so no bytes move). */
function layerBound(source: RepoEndpoint | undefined, t: TransferTarget): boolean {
  return !source || source.client.registry === t.ep.client.registry;
}

/**
 * Layer builds that start now, while the targets are asked about their tags, rather than once they
 * have answered (LayerHeadStart). Where a new layer is what the push waits for — a target in the
 * base's registry (the base is mounted there) or no base at all — the first layers' builds, each
 * up to the usual bound. For a base in another registry, whose blobs are the longer path and need
 * the cores, only a split push's top layer (its code: `--layer` deps, `--app` code), up to
 * SMALL_LAYER_BYTES: enough for a small layer to end before the tag answers, which tells a code
 * change early (tagFound), while a large one stops there after a few ms of CPU. A push of one
 * layer starts none there: that layer is usually the whole app, too large to end in time, and its
 * build would only take CPU from the warm path's diffID pass. The tag holding the image drops
 * them. Not in a dry run.
 */
function startLayersEarly(set: TargetSet, source: RepoEndpoint | undefined, inputs: PushInputs, signal: AbortSignal, dryRun: boolean | undefined): PushInputs {
  if (dryRun || inputs.layers.length === 0) return inputs;
  const bound = set.list.some((t) => layerBound(source, t));
  const top = inputs.layers.length - 1;
  // Not a layer planned once per OS family: which of its variants is built waits for the base.
  const early = (i: number): boolean => inputs.layers[i]!.forWindows === undefined && (bound ? i < LAYERS_AT_ONCE : top > 0 && i === top);
  const limit = bound ? HEAD_START_BYTES : SMALL_LAYER_BYTES;
  return {
    ...inputs,
    layers: inputs.layers.map((l, i) => (early(i) ? { ...l, headStart: new LayerHeadStart(l.options, signal, limit) } : l)),
  };
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
 * an unchanged layer is reused without compressing or uploading it). The new layers need nothing
 * from the base, so their uploads start as soon as every target has answered: on a first push
 * that is one 404, and the layers' gzip overlaps the base resolve and the blob plan. Only their
 * commits (the closing PUT, a small layer's one PUT) wait for the checked base, which has
 * normally come in long before: a base that cannot be read (a 404, a 401) or is refused leaves
 * neither a manifest nor a blob, the layers' sessions cancelled.
 */
async function resolveStage(
  run: TransferRun,
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  source: RepoEndpoint | undefined,
  inputs: PushInputs,
  opts: PushOptions,
  board: DiffIdBoard,
): Promise<Front> {
  const { platform, fromRef, layers } = inputs;
  const scratchPlatforms = (): Platform[] => {
    if (platform !== 'all') return [platform];
    const q = uniquePlatforms(layers.flatMap((l) => (l.platform ? [l.platform] : [])));
    return q.length ? q : [{ os: 'linux', architecture: 'amd64' }];
  };
  let layersKnown!: (blobs: Descriptor[]) => void;
  const blobsEarly = new Promise<Descriptor[]>((r) => (layersKnown = r));
  // Only where nothing read later can refuse the push: no conversion, no per-platform layer or
  // --platform to check against the config, no annotations for a Docker manifest.
  const onManifest = (m: ImageManifest, family: MediaFamily): void => {
    const refusable =
      (inputs.format !== undefined && inputs.format !== family) ||
      opts.platform !== undefined ||
      layers.some((l) => l.platform) ||
      (inputs.annotations !== undefined && family === 'docker');
    if (!refusable) layersKnown(distinctLayers([m]));
  };
  const checkedPromise = (
    source && fromRef ? resolveBase(source.client, fromRef, platform, opts.platform !== undefined, onManifest) : Promise.resolve(scratchBase(scratchPlatforms(), inputs.format ?? 'oci'))
  ).then(async (b) => {
    const checked = checkBase(b, inputs, set.logger);
    warnUnsetEnv(checked.base, opts.config?.env, set.logger, inputs.names);
    await checkWindowsVariants(checked.base, inputs, run.signal);
    return checked;
  });
  const basePromise: Promise<ResolvedBase> = checkedPromise.then((c) => c.base);
  basePromise.catch(() => undefined); // awaited below; the probes must not make it "unhandled" first
  // What this push would write with given layers: the warm path compares it with the tag's digest.
  const same: SameImageCheck = {
    layersOf: (p) => layersFor(inputs, p),
    topDigest: (base, results) => topDigestOf(composeStage(base, results, inputs, opts)),
  };
  // A layer planned once per OS family (--platform all) waits for the base to say which of its
  // variants some image gets; the other is never built or hashed (its files may not even suit that
  // OS: a symlink, in a Windows layer), and its diffID is known to be none at once.
  const used = layers.some((l) => l.forWindows !== undefined) ? basePromise.then((b) => usedLayers(inputs, b), () => new Set<number>()) : undefined;
  void used?.then((u) => layers.forEach((_, i) => u.has(i) || board.set(i, undefined)));
  const needed = used && ((i: number) => (layers[i]!.forWindows === undefined ? undefined : used.then((u) => u.has(i))));
  // A layer whose build ahead has completed already knows its diffID: no second pass over its files.
  const diffIdsOf: DiffIdOf[] = layers.map((l, i) =>
    once(async () => {
      const wanted = needed?.(i);
      if (wanted && !(await wanted)) return undefined;
      const built = l.headStart?.built;
      const r = built ? { diffId: built.diffId, uncompressedSize: built.uncompressedSize } : await computeDiffId({ ...l.options, signal: run.signal });
      board.set(i, r.diffId);
      return r;
    }),
  );
  // What the warm path says of a layer it could have reused and did not (reuse.ts): a --layer's
  // (dependencies) first file that every install writes anew is looked for then, once for all targets.
  const churns = layers.map((l) => once(() => firstChurningFile({ ...l.options, signal: run.signal })));
  const history: LayerHistory = {
    createdBy: layers.map((l) => l.createdBy),
    mtime: inputs.mtime,
    option: inputs.names.name('mtime'),
    expected: layers.map((l) => l.index !== undefined),
    churn: (i) => churns[i]!(),
    signal: run.signal,
    said: layers[0]?.options.said,
  };
  const explaining: Promise<void>[] = [];
  const probes = Promise.all(
    set.list.map(async (t) => {
      const state = states.get(t)!;
      let decide!: (writes: boolean) => void;
      state.writes = new Promise<boolean>((resolve) => (decide = resolve));
      // Where the new layer is what the push waits for (the base is mounted in the same registry,
      // or there is no base), a first push of the tag opens its session alongside the tag's GET,
      // a round trip before it would otherwise. A tag that exists may hold every layer already:
      // its spare is given back at once, while the warm path's other requests run.
      if (layers.length && !opts.dryRun && layerBound(source, t)) state.spares.push(new SpareSession(t.ep, run.ctx));
      // Once the push is known to write here, the config's session opens (TargetState.configSpare).
      const openConfigSpare = (): void => {
        if (!opts.dryRun && !run.signal.aborted) state.configSpare ??= new SpareSession(t.ep, run.ctx);
      };
      const openLayerSpare = (): void => {
        if (!opts.dryRun && !run.signal.aborted) state.spares.push(new SpareSession(t.ep, run.ctx));
      };
      // The tag exists. A layer built ahead that is not in its manifest means another image there
      // (see tagFound): a layer's session (the one opened with the tag's GET, kept, or a new one) and
      // the config's open once the tag's config has been asked for, so as not to take its connection.
      let expected = false;
      const onTagFound = (images: readonly ImageManifest[] | undefined): boolean => (expected = tagFound(t, state, layers, images));
      const onChangeExpected = (): void => {
        if (!state.spares.length) openLayerSpare();
        openConfigSpare();
      };
      // The tag holds another image: a changed layer will most likely be sent, so its session opens
      // now, alongside the tag's config GET that tells which layers changed, not after it.
      const onChanged = (): void => {
        decide(true);
        openConfigSpare();
        if (!expected && layers.length) openLayerSpare();
      };
      // The other tags are asked about alongside, once each (extra-tags.ts): a re-run leaves those
      // already on the digest alone, as copy does, and a registry with immutable tags does not
      // refuse it for them either; where the tag in --to is new, the warm path reads the first
      // of them that exists from the same answers.
      const others = new ExtraTags(t.ep, t.tags.slice(1), ExtraTags.askFor(t.ep));
      if (others.tags.length) state.extraTags = others;
      // A config-only push (no new layer) is compared too: re-run unchanged, it writes nothing.
      const found = await findReusableLayers(t.ep, t.ref, basePromise, diffIdsOf, {
        same,
        onTagFound,
        onChangeExpected,
        onChanged,
        alsoTags: others,
        names: inputs.layers.map((l) => l.label.name),
        history,
      }); // never rejects
      decide(found?.same !== true);
      if (found?.explained) explaining.push(found.explained);
      // Without new layers and without a tag, the config goes as HEAD ‖ POST (it may be there already).
      if (diffIdsOf.length && found?.same !== true) openConfigSpare();
      state.reusable = found?.layers ?? [];
      state.tagDigest = found?.tagDigest;
      if (found?.same && found.tagDigest && found.mediaType) state.held = { digest: found.tagDigest, mediaType: found.mediaType };
      for (const d of found?.present ?? []) t.present.add(d);
    }),
  );
  // The family of the manifests written: the layers' progress events name its layer media type.
  const family = basePromise.then((b) => b.family);
  family.catch(() => undefined); // a failed resolve is reported by the stages that await the base
  // A layer is committed once the base is checked and every new layer's file is known to open.
  const commitAfter = Promise.all([checkedPromise, inputs.readable]);
  commitAfter.catch(() => undefined); // an upload that never reaches its commit leaves it unawaited
  const layerUploads: Promise<(LayerResult | undefined)[]> =
    layers.length && !opts.dryRun
      ? probes.then(() => (run.signal.aborted ? [] : uploadLayersEverywhere(set, states, layers, run.ctx, family, opts.layerUpload, needed, commitAfter)))
      : Promise.resolve([]);
  layerUploads.catch(() => undefined); // awaited with the blobs; an early failure elsewhere must not leave it unhandled
  const early = opts.dryRun ? undefined : sendConfigsEarly(set, states, basePromise, layerUploads, board, inputs, opts);
  const resolved = checkedPromise.then(async (checked): Promise<Resolved> => {
    await probes;
    return { base: checked.base, baseFamily: checked.family, baseBlobs: distinctLayers(checked.base.images.map((i) => i.manifest)), layerUploads };
  });
  resolved.catch(() => undefined); // awaited by the caller once the transfer has started
  // The blob list, as soon as it is known: the one manifest of a single-image base, unless --format
  // converts it (then its descriptors change, and the checked base is waited for).
  const blobs = await Promise.race([blobsEarly, resolved.then((r) => r.baseBlobs)]);
  await probes;
  const explained = probes.then(() => Promise.all(explaining)).then(() => undefined, () => undefined);
  return { baseBlobs: blobs, resolved, early, explained };
}

/**
 * A target's tag exists: the push may have nothing to send there, so its spare session is given
 * back and the early layer builds stop (a layer that did change is built again once the diffIDs
 * have said so). Its connections are topped up to TAG_FOUND_CONNECTIONS meanwhile (nothing sent
 * on them): if the tag holds another image, its config GET, the changed layer's session and the
 * config's session all go out at once, a round trip later, and would otherwise wait for
 * handshakes.
 *
 * Except where the tag is one image manifest and a layer built ahead has already ended with a
 * digest that manifest does not name: the same files always give the same bytes, so the tag
 * holds another image — the everyday deploy after a code change, whose small layer was built
 * before the tag's answer came back. Then the spare session and that build are kept for the
 * upload, and true tells the caller to read the tag's configs at once: the changed layer goes
 * out a round trip or two sooner. It is only an expectation, never the decision: which layers are
 * reused is still decided by diffID, so the image pushed is the same either way, and what turns
 * out unused (a layer present under another compression) is given back at the end.
 */
function tagFound(t: TransferTarget, state: TargetState, layers: readonly LayerPlan[], images: readonly ImageManifest[] | undefined): boolean {
  t.ep.client.warm?.(TAG_FOUND_CONNECTIONS);
  const named = images && new Set(images.flatMap((m) => m.layers.map((l) => l.digest)));
  const changed = named ? layers.filter((l) => l.headStart?.running && l.headStart.built && !named.has(l.headStart.built.digest)) : [];
  for (const l of layers) if (!changed.includes(l)) l.headStart?.drop();
  if (changed.length) return true;
  for (const s of state.spares) void s.release();
  return false;
}

/** Connections to a target whose tag exists, for the requests of a changed push (see tagFound). */
const TAG_FOUND_CONNECTIONS = 5;

/** Cancels every spare upload session nobody took; resolves when the registries have answered. */
async function releaseSpares(states: Map<TransferTarget, TargetState>): Promise<void> {
  await Promise.all([...states.values()].flatMap((s) => [...s.spares, ...(s.configSpare ? [s.configSpare] : [])].map((x) => x.release())));
}

/** Distinct layers of the manifests, in order. */
function distinctLayers(manifests: readonly ImageManifest[]): Descriptor[] {
  const distinct = new Map<string, Descriptor>();
  for (const m of manifests) for (const l of m.layers) if (!distinct.has(l.digest)) distinct.set(l.digest, l);
  return [...distinct.values()];
}

/** The inputs with each layer announcing its diffID on the board as soon as its tar has ended. */
function withDiffIdBoard(inputs: PushInputs, board: DiffIdBoard): PushInputs {
  return { ...inputs, layers: inputs.layers.map((l, i) => ({ ...l, options: { ...l.options, onDiffId: (id: string) => board.set(i, id) } })) };
}

/** The configs composed early, and the sending of them to every target. */
interface EarlyConfigsSent {
  configs: Promise<EarlyConfigs | undefined>;
  sent: Promise<void>;
}

/**
 * Sends the configs as soon as the base and every new layer's diffID are known — while base blobs
 * still move and the last layer's upload is closing — instead of after them: on a long round trip
 * that takes the config's requests off the critical path: its session opened as soon as the push
 * was known to write there (TargetState.configSpare), so the config is one PUT. At each target they
 * wait only until it is known that the push writes there (the tag absent or holding another image:
 * `writes`), not for the tag's configs or the base blobs' plan. Settles even when a layer fails:
 * its end settles every diffID still open, and without all of them nothing is sent.
 */
function sendConfigsEarly(
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  base: Promise<ResolvedBase>,
  layerUploads: Promise<(LayerResult | undefined)[]>,
  board: DiffIdBoard,
  inputs: PushInputs,
  opts: PushOptions,
): EarlyConfigsSent {
  layerUploads.then(
    (results) => results.forEach((r, i) => board.set(i, r?.diffId)),
    () => inputs.layers.forEach((_, i) => board.set(i, undefined)),
  );
  const configs = Promise.all([base, board.all()]).then(([b, ids]): EarlyConfigs | undefined => {
    const used = usedLayers(inputs, b);
    const diffIds = ids.map((d, i) => (used.has(i) ? d : undefined));
    if ([...used].some((i) => diffIds[i] === undefined)) return undefined;
    return { diffIds, list: composeConfigs(b, diffIds, inputs, opts) };
  });
  configs.catch(() => undefined); // awaited by `sent` and after the transfer
  const sent = configs.then(async (c) => {
    if (!c) return;
    await set.each(async (t) => {
      if ((await states.get(t)!.writes) === false) return; // the tag holds this very image: its config is there
      const spare = states.get(t)!.configSpare;
      await Promise.all(c.list.filter((x) => !t.present.has(x.digest)).map((x) => ensureBytesBlob(t.ep, x.bytes, set.ctx, spare)));
      for (const x of c.list) t.present.add(x.digest);
    });
  });
  sent.catch(() => undefined); // awaited in transferStage, which may come after the base blobs' plan
  return { configs, sent };
}

/** Moves the base blobs while the new layers finish (and the configs go out); resolves with the layers' facts. */
async function transferStage(run: TransferRun, moving: Promise<void>, resolved: Resolved, configsSent: Promise<void>): Promise<(LayerResult | undefined)[]> {
  const settled = await Promise.allSettled([resolved.layerUploads, moving, configsSent]);
  const failure = run.firstFailure(settled);
  if (failure !== undefined) throw failure;
  return (settled[0] as PromiseFulfilledResult<(LayerResult | undefined)[]>).value;
}

/** Per target: configs, then every blob confirmed, then manifests and tags. */
async function commitStage(set: TargetSet, layers: Map<TransferTarget, TargetState>, composed: Composed, clock: (name: string) => void): Promise<void> {
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
    // The warm path fetched the tag in --to (the first one), and the others were asked about
    // with it (extra-tags.ts): a tag that holds these very bytes is not written again.
    const held = new Set(await tagsHolding(top.digest, t.tags, state.tagDigest, state.extraTags));
    const c = await set.commitManifests(t, top, children, held);
    for (const tag of c.unchanged) set.logger.info(`${t.ref.registry}/${t.ref.repository}:${tag} already holds ${c.digest}; not written again`);
    state.result = {
      reference: digestReference(t.ref, c.digest),
      digest: c.digest,
      mediaType: top.mediaType,
      tags: t.tags,
      ...(c.unchanged.length ? { tagsUnchanged: c.unchanged } : {}),
      platforms: composed.images.map((b) => ({ platform: formatPlatform(b.base.platform), digest: composed.index ? sha256Digest(b.bytes) : c.digest, configDigest: b.configDigest })),
    };
  });
  clock('manifest');
}
