/**
 * The progress events (BlobEvents) of the layers a push builds. A layer's digest is known only
 * once it has been built, so its events go under its key (`layer` for the app layer, `layer:N` for
 * the N-th --layer), at each target it goes to, as a base blob's go under its digest: a `start`
 * with what is done there (`uploaded`: built and sent, or a tag's copy of it; `skipped`: the target
 * has it; `mounted`) and its size once known (undefined while its first build runs), its `bytes` as
 * they are built and sent, then an `end` with the built layer's size and the layer media type of
 * the manifest the push writes. That family is chosen with the manifest (the base's, or --format's:
 * the bytes are the same in either), known once the base's manifest has been read; an `end` that
 * comes before it waits for it, and none comes where the base could not be resolved (the push
 * fails then).
 */
import { layerMediaTypeFor, type MediaFamily } from '../image/mediatypes.js';
import { targetName } from '../transfer/blobs.js';
import type { TransferTarget } from '../transfer/target-set.js';
import type { BlobAction, TransferContext } from '../transfer/types.js';
import type { LayerUploadOutcome } from './layer-upload.js';
import type { LayerLabel } from './layer-label.js';

/** Sends the layers' events of one push. */
export class LayerEvents {
  /** The output family, once known (events then go out at once, in order). */
  private known: MediaFamily | undefined;

  constructor(
    private readonly ctx: TransferContext,
    private readonly family: Promise<MediaFamily>,
  ) {
    family.then(
      (f) => (this.known = f),
      () => undefined,
    );
  }

  /** The layer starts at `t`; `size` where it is known already (built for an earlier target, or a tag's blob). */
  start(label: LayerLabel, action: BlobAction, size: number | undefined, t: TransferTarget): void {
    this.ctx.events?.start?.(label.key, action, size, targetName(t.ep));
  }

  /**
   * A dependency layer's digest pass begins (layer-everywhere.ts): said before it, with no target
   * (the one pass serves every target's HEAD) and no size, as a first build's start is; the
   * returned callback gives its bytes as they are made. Over a large layer this pass is the
   * longest step of the push, and without it nothing would be heard of the layer until each
   * target had answered the HEAD that follows.
   */
  digesting(label: LayerLabel): (n: number) => void {
    const events = this.ctx.events;
    events?.start?.(label.key, 'uploaded', undefined);
    return (n) => events?.bytes?.(label.key, n);
  }

  /**
   * The layer is at `t`, with the built layer's own size (a progress display adding up its bytes
   * would count it once per target that was sent it).
   */
  end(label: LayerLabel, outcome: LayerUploadOutcome, t: TransferTarget): void {
    const events = this.ctx.events;
    if (!events?.end) return;
    const at = targetName(t.ep);
    const send = (family: MediaFamily): void =>
      events.end!({ digest: label.key, size: outcome.result.size, mediaType: layerMediaTypeFor(family), action: outcome.action, bytes: outcome.bytes, retries: outcome.retries, resumes: 0 }, at);
    if (this.known) send(this.known);
    else this.family.then(send, () => undefined);
  }

  /**
   * The context for copying a tag's blob of the layer to a target (moveBlob): its bytes are this
   * layer's there, under its key; its start and end are the layer's own (start, end).
   */
  moving(label: LayerLabel): TransferContext {
    const events = this.ctx.events;
    return { ...this.ctx, events: events?.bytes ? { bytes: (_digest, n) => events.bytes!(label.key, n) } : undefined };
  }
}
