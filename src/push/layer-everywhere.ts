/**
 * Getting the app layer to every target of a push: built and streamed once to the first target
 * that needs it; the others reuse it (the warm path found it), skip it (present), mount it (same
 * registry as a target that has it) or get a byte-identical re-production sent as one PUT with
 * the digest already known.
 */
import type { LayerOptions, LayerResult } from '../layer/index.js';
import type { UploadMethod } from '../registry/quirks.js';
import type { TargetSet, TransferTarget } from '../transfer/engine.js';
import type { TransferContext } from '../transfer/types.js';
import { uploadLayer, type LayerUploadOutcome } from './layer-upload.js';
import type { PushTargetResult } from './options.js';

/** What push knows of the app layer (and the result) at one target. */
export interface LayerState {
  /** The warm path found this layer at the target tag: nothing to build or send. */
  reusable?: LayerResult;
  /** Digest of the manifest (or index) the --to tag held, when the warm path fetched it. */
  tagDigest?: string;
  /** How the layer got there. */
  layer?: LayerUploadOutcome;
  /** What was written at the target. */
  result?: PushTargetResult;
}

/** Uploads the layer wherever it is missing; resolves with its facts (undefined when every target failed first). */
export async function uploadLayerEverywhere(set: TargetSet, states: Map<TransferTarget, LayerState>, layer: LayerOptions, ctx: TransferContext, method?: UploadMethod): Promise<LayerResult | undefined> {
  const holders: TransferTarget[] = set.list.filter((t) => states.get(t)!.reusable);
  let known: LayerResult | undefined = holders.length ? states.get(holders[0]!)!.reusable : undefined;
  for (const t of set.list) {
    const state = states.get(t)!;
    if (t.failed || state.reusable) continue;
    try {
      state.layer = await layerTo(t, holders, layer, ctx, method, known);
      known ??= state.layer.result;
      if (state.layer.action === 'skipped') t.present.add(known.digest); // its HEAD (or mount) just answered
      else await set.confirm(t, known.digest);
      holders.push(t);
    } catch (err) {
      set.setAside(t, err);
    }
  }
  return known;
}

/** The layer at one target: present, mounted from a holder in the same registry, or uploaded. */
async function layerTo(t: TransferTarget, holders: TransferTarget[], layer: LayerOptions, ctx: TransferContext, method: UploadMethod | undefined, known: LayerResult | undefined): Promise<LayerUploadOutcome> {
  const skipped = (result: LayerResult): LayerUploadOutcome => ({ result, action: 'skipped', bytes: 0, retries: 0, method: 'none' });
  if (!known) return uploadLayer(t.ep, layer, ctx, method);
  if ((await t.ep.client.headBlob(t.ep.repo, known.digest)) !== undefined) return skipped(known);
  const from = holders.find((h) => h.ref.registry === t.ref.registry);
  if (from) {
    const m = await t.ep.client.mountBlob(t.ep.repo, known.digest, from.ep.repo).catch(() => undefined);
    if (m?.mounted) return skipped(known);
    if (m && !m.mounted) await t.ep.client.cancelUpload(m.uploadUrl);
  }
  return uploadLayer(t.ep, layer, ctx, method, known);
}
