/**
 * push()'s report: per target the manifest written and each blob's fate, the new layers as they
 * went (reused, skipped, mounted, uploaded), the base, the timings and the HTTP counts; E_PARTIAL
 * when some targets failed. A dry run reports the plan and the configs instead, nothing written.
 */
import { formatPlatform } from '../image/platform.js';
import type { MediaFamily } from '../image/mediatypes.js';
import type { Descriptor } from '../image/types.js';
import { hashLayer, type LayerResult } from '../layer/index.js';
import { digestReference, formatReference } from '../ref/reference.js';
import type { TransferRun } from '../transfer/engine.js';
import { TargetSet, type TransferTarget } from '../transfer/target-set.js';
import type { BlobReport } from '../transfer/types.js';
import { composeStage, topDigestOf, usedLayers } from './compose-stage.js';
import { tagsHolding } from './extra-tags.js';
import type { PushInputs } from './inputs.js';
import type { TargetState } from './layer-everywhere.js';
import type { PushLayerReport, PushOptions, PushResult, PushTargetReport, PushTargetResult } from './options.js';
import type { ResolvedBase } from './resolve.js';

/** What the report needs of the resolved base: the base in the output family, its own family, its blobs. */
export interface ReportedBase {
  base: ResolvedBase;
  baseFamily: MediaFamily;
  baseBlobs: Descriptor[];
}

/** The report's `base`: named as the inputs name it, with the digest and mirror it was read at ('' before it was read). */
function baseReport(inputs: PushInputs, resolved: ReportedBase | undefined): PushResult['base'] {
  return { reference: inputs.fromName, digest: resolved?.base.digest ?? '', ...(resolved?.base.mirror ? { mirror: resolved.base.mirror } : {}) };
}

/** Each new layer in the report, as it went to target `t`. */
function layerReports(inputs: PushInputs, results: readonly (LayerResult | undefined)[], state: TargetState | undefined, planned: boolean): PushLayerReport[] {
  return inputs.layers.flatMap((l, i): PushLayerReport[] => {
    const r = results[i];
    if (!r) return [];
    // A tag holding these files compressed otherwise does not hold this blob (the push writes it there).
    const reused = state?.reusable[i]?.digest === r.digest;
    const o = state?.outcomes[i];
    const action: PushLayerReport['action'] = reused ? 'reused' : planned ? 'planned' : o?.action ?? 'uploaded';
    return [{
      name: l.label.name,
      dest: l.dest,
      ...(l.platform ? { platform: formatPlatform(l.platform) } : {}),
      digest: r.digest,
      diffId: r.diffId,
      size: r.size,
      action,
      ...(planned ? {} : { method: reused ? 'reused' : o?.method ?? 'none' }),
    }];
  });
}

/** The report's `layer` field: the top new layer, a shortcut to the last of `layers` (its `action` has no `mounted`: a mounted layer reads `skipped` there). */
function topLayer(list: PushLayerReport[]): PushResult['layer'] {
  const top = list.at(-1);
  if (!top) return undefined;
  return { digest: top.digest, diffId: top.diffId, size: top.size, action: top.action === 'mounted' ? 'skipped' : top.action, ...(top.method ? { method: top.method } : {}) };
}

/** The family change, when --format made one. */
function formatChange(resolved: ReportedBase): PushResult['format'] {
  return resolved.base.family !== resolved.baseFamily ? { from: resolved.baseFamily, to: resolved.base.family } : undefined;
}

/** Whole-transfer retries summed over every target's blobs and new layers. */
function retriesOf(set: TargetSet, states: Map<TransferTarget, TargetState>): number {
  return set.list.reduce((a, t) => a + t.blobs.reduce((x, b) => x + b.retries, 0) + (states.get(t)?.outcomes.reduce((x, o) => x + (o?.retries ?? 0), 0) ?? 0), 0);
}

/**
 * The error of a push whose every target failed: the first target's own (its class and code, so
 * the exit code is that failure's). With several targets it carries the report in its details as
 * E_PARTIAL does (`result`, `failed`), as copy's does: each target's failure in `targets`; the
 * top-level fields, which describe a target written (or planned), are a failed target's (`''`,
 * no platforms), `blobs` the first target's. One target's failure is the push's, alone.
 */
export function allFailed(
  run: TransferRun,
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  resolved: ReportedBase | undefined,
  inputs: PushInputs,
  timings: Record<string, number>,
  dryRun: boolean,
  blobsOf: (t: TransferTarget) => BlobReport[] = (t) => t.blobs,
): unknown {
  if (set.failFast) return set.list[0]!.failed;
  const first = set.list[0]!;
  const report: PushResult = {
    reference: '',
    digest: '',
    mediaType: '',
    tags: first.tags,
    base: baseReport(inputs, resolved),
    platforms: [],
    blobs: blobsOf(first),
    retries: retriesOf(set, states),
    dryRun,
    timings,
    http: run.transport.stats.snapshot(),
    targets: set.list.map((t) => ({ ...targetReport(t, undefined), blobs: blobsOf(t) })),
  };
  return set.outcome('targets', report);
}

/**
 * The details an interrupted push's error carries (its abort, E_ABORTED): its report (`result`),
 * each target as the interruption left it (TargetSet.interruptedAt: the tags written or found
 * holding the image, a manifest PUT cut off, which may have taken effect), and `failed`, the
 * targets that do not hold every tag. A target whose tags were found holding the image, at the
 * commit (ManifestCommit's tagsUnchanged) or before it by the warm path (TargetState.held: the
 * interruption came in another target's transfer, before any commit), is ok, nothing written.
 * The top-level fields are the first ok target's (its media type: the manifest written or found
 * there), `''` where none is ok, as in allFailed's; `targets` is there whether `to` was one
 * target or several.
 */
export async function interruptedReport(
  run: TransferRun,
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  inputs: PushInputs,
  timings: Record<string, number>,
): Promise<{ result: PushResult; failed: string[] }> {
  const mediaTypes = new Map<PushTargetReport, string>();
  const targets = await Promise.all(
    set.list.map(async (t): Promise<PushTargetReport> => {
      const state = states.get(t);
      const held = state?.held;
      // The other tags' answers have settled by now (the run has): those on the digest hold it too.
      const unchanged = t.tagsUnchanged?.length ? t.tagsUnchanged : held ? await tagsHolding(held.digest, t.tags, state.tagDigest, state.extraTags) : [];
      const { ok, error } = TargetSet.interruptedAt(t, t.tags, unchanged);
      if (!ok) return { reference: '', target: formatReference(t.ref), digest: '', tags: t.tags, ok: false, blobs: t.blobs, ...(error ? { error } : {}) };
      const digest = t.digestWritten ?? held!.digest;
      const report: PushTargetReport = {
        reference: digestReference(t.ref, digest),
        target: formatReference(t.ref),
        digest,
        tags: t.tags,
        ...(unchanged.length ? { tagsUnchanged: [...unchanged] } : {}),
        ok: true,
        blobs: t.blobs,
      };
      mediaTypes.set(report, state?.result?.mediaType ?? held?.mediaType ?? '');
      return report;
    }),
  );
  const first = targets.find((t) => t.ok);
  const result: PushResult = {
    reference: first?.reference ?? '',
    digest: first?.digest ?? '',
    mediaType: (first && mediaTypes.get(first)) ?? '',
    tags: set.list[0]!.tags,
    base: baseReport(inputs, undefined),
    platforms: [],
    blobs: set.list[0]!.blobs,
    retries: retriesOf(set, states),
    dryRun: false,
    timings,
    http: run.transport.stats.snapshot(),
    targets,
  };
  return { result, failed: targets.filter((t) => !t.ok).map((t) => t.target) };
}

/** The report; E_PARTIAL (with the report in its details) when some targets failed. */
export function finalReport(
  run: TransferRun,
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  resolved: ReportedBase,
  results: readonly (LayerResult | undefined)[],
  inputs: PushInputs,
  timings: Record<string, number>,
): PushResult {
  const primary = set.list.find((t) => states.get(t)!.result);
  if (!primary) throw allFailed(run, set, states, resolved, inputs, timings, false);
  const p = states.get(primary)!;
  const retries = retriesOf(set, states);
  const layers = layerReports(inputs, results, p, false);
  const format = formatChange(resolved);
  const report: PushResult = {
    ...p.result!,
    base: baseReport(inputs, resolved),
    layer: topLayer(layers),
    ...(layers.length ? { layers } : {}),
    ...(format ? { format } : {}),
    blobs: primary.blobs,
    retries,
    dryRun: false,
    timings,
    http: run.transport.stats.snapshot(),
    ...(set.failFast && !inputs.toArray
      ? {}
      : {
          targets: set.list.map((t) => {
            const s = states.get(t)!;
            return { ...targetReport(t, s.result), ...(s.result ? { layers: layerReports(inputs, results, s, false) } : {}) };
          }),
        }),
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

/** The plan, the configs and the layers' digests; nothing written. */
export async function dryRunReport(
  run: TransferRun,
  set: TargetSet,
  states: Map<TransferTarget, TargetState>,
  resolved: ReportedBase,
  inputs: PushInputs,
  opts: PushOptions,
  timings: Record<string, number>,
): Promise<PushResult> {
  // The top-level fields describe the first target that could be planned, as the real push's
  // describe the first that succeeded: a failing first target is one block of the plan (exit 8).
  const planned = (t: TransferTarget): BlobReport[] => set.plannedReports(t, resolved.baseBlobs);
  if (set.live.length === 0) throw allFailed(run, set, states, resolved, inputs, timings, true, planned);
  const used = usedLayers(inputs, resolved.base); // a variant for an OS the base lacks is not built
  // As the push itself does (uploadLayerEverywhere), the first target still in it whose tag holds
  // the layer lends its blob to every target; built afresh only where none holds it.
  const lent = (i: number): LayerResult | undefined => set.live.map((t) => states.get(t)!.reusable[i]).find(Boolean);
  const results = await Promise.all(inputs.layers.map((l, i) => (used.has(i) ? (lent(i) ?? hashLayer({ ...l.options, signal: run.signal })) : undefined)));
  const composed = composeStage(resolved.base, results, inputs, opts);
  // A tag that already holds the very image the push would write is not written again (commitStage
  // asks tagsHolding the same, from the same answers), so the plan says so instead of a manifest to write.
  const top = topDigestOf(composed);
  const held = new Map(await Promise.all(set.list.map(async (t) => [t, await tagsHolding(top, t.tags, states.get(t)?.tagDigest, states.get(t)?.extraTags)] as const)));
  const unchanged = (t: TransferTarget): { tagsUnchanged?: string[] } => (held.get(t)?.length ? { tagsUnchanged: held.get(t) } : {});
  // Where a tag is to be written, whether the credentials may write there, as copy's plan checks it (TargetSet.checkWrites).
  await set.subset(set.live.filter((t) => !t.tags.every((tag) => held.get(t)?.includes(tag)))).checkWrites();
  const first = set.list.find((t) => !t.failed);
  if (!first) throw allFailed(run, set, states, resolved, inputs, timings, true, planned);
  const state = states.get(first)!;
  const writeNotChecked = (t: TransferTarget): { writeNotChecked?: string } => (t.writeNotChecked ? { writeNotChecked: t.writeNotChecked } : {});
  const layers = layerReports(inputs, results, state, true);
  const format = formatChange(resolved);
  const report: PushResult = {
    reference: `${first.ref.registry}/${first.ref.repository}`,
    digest: '',
    mediaType: '',
    tags: first.tags,
    ...unchanged(first),
    ...writeNotChecked(first),
    base: baseReport(inputs, resolved),
    platforms: resolved.base.images.map((i) => ({ platform: formatPlatform(i.platform), digest: '', configDigest: '' })),
    layer: topLayer(layers),
    ...(layers.length ? { layers } : {}),
    ...(format ? { format } : {}),
    blobs: planned(first),
    retries: 0,
    dryRun: true,
    timings,
    configs: composed.images.map((b) => JSON.parse(b.configBytes.toString('utf8')) as unknown),
    http: run.transport.stats.snapshot(),
    ...(set.failFast && !inputs.toArray
      ? {}
      : {
          targets: set.list.map((t) => {
            if (t.failed) return { reference: '', target: formatReference(t.ref), digest: '', tags: t.tags, ok: false, blobs: planned(t), error: TargetSet.summary(t) };
            const own = layerReports(inputs, results, states.get(t), true); // a target whose tag holds a layer reuses it
            return {
              reference: `${t.ref.registry}/${t.ref.repository}`,
              target: formatReference(t.ref),
              digest: '',
              tags: t.tags,
              ...unchanged(t),
              ...writeNotChecked(t),
              ok: true,
              blobs: planned(t),
              ...(own.length ? { layers: own } : {}),
            };
          }),
        }),
  };
  // A target that could not be planned (refused, unreachable) fails the dry run as it would the
  // push: E_PARTIAL, exit 8, the plan in its details (copy --dry-run does the same).
  const failure = set.outcome('targets', report);
  if (failure) throw failure;
  return report;
}

