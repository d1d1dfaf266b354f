/**
 * Uploading the new layer. Default: one pass — the tar is built, gzipped and hashed while it
 * streams into a single PATCH, and `PUT ?digest=` closes the upload with the digest learned at
 * the end. For registries that refuse a streamed PATCH: a hash pass, then a byte-identical second
 * pass as one monolithic PUT (determinism makes the two passes agree); for registries that refuse
 * both, chunked PATCHes (see transfer/upload.ts; the choice is remembered for the run). Either way
 * a transient failure re-produces the layer from the directory and starts again, within --retries.
 */
import { RegpushError } from '../errors.js';
import { restartOutcome, RetryBudget, sleep } from '../http/retry.js';
import { createLayerStream, hashLayer, type LayerOptions, type LayerResult } from '../layer/index.js';
import type { UploadMethod } from '../registry/quirks.js';
import type { RepoEndpoint, TransferContext } from '../transfer/types.js';
import type { SpareSession } from '../transfer/spare-session.js';
import type { LayerHeadStart } from './layer-head-start.js';
import { uploadBlob, type BlobBody } from '../transfer/upload.js';

/** How the layer got to the target. */
export interface LayerUploadOutcome {
  result: LayerResult;
  /** skipped: the target had it; mounted: from another repository of the same registry. */
  action: 'uploaded' | 'skipped' | 'mounted';
  /** Bytes sent to the target. */
  bytes: number;
  retries: number;
  /** Which upload method worked. */
  method: UploadMethod | 'none';
}

/** How a layer is named in messages and progress events. */
export interface LayerLabel {
  /** "app layer", "layer 2". */
  name: string;
  /** Key of its byte events ("layer" for the app layer, "layer:2" for others). */
  key: string;
}

/** The app layer's label, as before there were several layers. */
export const APP_LAYER: LayerLabel = { name: 'app layer', key: 'layer' };

/** Methods for the layer, best first: its digest is only known once it has been produced. */
export const LAYER_METHODS: readonly UploadMethod[] = ['patch', 'put', 'chunked'];
/** Methods once the digest is known: one PUT with a length is the cheapest. */
export const KNOWN_LAYER_METHODS: readonly UploadMethod[] = ['put', 'patch', 'chunked'];

/** How to upload one layer (all optional). */
export interface LayerUploadOptions {
  /** Forces one strategy (else streamed PATCH, then PUT, then chunked on refusal). */
  method?: UploadMethod;
  /** The layer was already produced once (for another target): its digest and size are known, so a monolithic PUT needs no hash pass. */
  known?: LayerResult;
  /** How the layer is named in messages and progress events (default: the app layer). */
  name?: LayerLabel;
  /** An upload session opened while the target was asked about its tag: the first attempt starts on it. */
  spare?: SpareSession;
  /** The layer's build, already running: the first streamed attempt sends it. */
  headStart?: LayerHeadStart;
}

/**
 * Builds and uploads the layer. A transient failure of the streamed body re-produces the layer
 * and starts again, within the layer's one retry budget; a failure the transport has already
 * retried (the POST, the closing PUT) is final.
 */
export async function uploadLayer(target: RepoEndpoint, layer: LayerOptions, ctx: TransferContext, opts: LayerUploadOptions = {}): Promise<LayerUploadOutcome> {
  const { method, known, name = APP_LAYER, spare, headStart } = opts;
  const budget = new RetryBudget(ctx.transport.retryPolicy);
  const label = name.name;
  let session = await spare?.take();
  for (;;) {
    let bytes = 0;
    let produced: Promise<LayerResult> | undefined;
    let hashed: LayerResult | undefined;
    try {
      const out = await uploadBlob(
        target,
        {
          methods: method ? [method] : known ? KNOWN_LAYER_METHODS : LAYER_METHODS,
          what: label,
          session,
          open: async (m): Promise<BlobBody | undefined> => {
            if (m === 'put') {
              // A monolithic PUT needs the digest and size first: hash pass, then the same bytes again.
              headStart?.drop();
              hashed = known ?? (await hashLayer({ ...layer, signal: ctx.signal }));
              if ((await target.client.headBlob(target.repo, hashed.digest)) !== undefined) return undefined;
            }
            const { stream, result } = (m !== 'put' && headStart?.take()) || createLayerStream({ ...layer, signal: ctx.signal });
            produced = result;
            bytes = 0;
            stream.on('data', (c: Buffer) => {
              bytes += c.length;
              ctx.events?.bytes?.(name.key, c.length);
            });
            stream.pause();
            return m === 'put' ? { data: stream, digest: hashed!.digest, size: hashed!.size } : { data: stream, digestAtEnd: async () => (await result).digest };
          },
        },
        ctx,
      );
      session = undefined;
      if (!out.sent) return { result: hashed!, action: 'skipped', bytes: 0, retries: budget.spent, method: 'none' };
      const result = await produced!;
      if (hashed && result.digest !== hashed.digest) {
        throw new RegpushError('E_INPUT', `${label}: its source changed while it was being uploaded (layer digest ${hashed.digest} became ${result.digest})`);
      }
      return { result, action: 'uploaded', bytes, retries: budget.spent, method: out.method };
    } catch (err) {
      session = undefined; // uploadBlob used it (or cancelled it)
      const outcome = restartOutcome(err);
      const delay = outcome ? budget.next(outcome) : null;
      if (delay === null) throw err;
      ctx.transport.logger.warn(`${label}: upload failed (${(err as Error).message}); rebuilding and retrying in ${delay} ms`);
      await sleep(delay, ctx.signal);
    }
  }
}
