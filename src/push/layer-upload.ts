/**
 * Uploading the new layer. Default: one pass — the tar is built, gzipped and hashed while it
 * streams into a single PATCH, and `PUT ?digest=` closes the upload with the digest learned at
 * the end; a small layer, or one whose build ended while its session opened, goes as one PUT
 * instead (SMALL_LAYER_BYTES). For registries that refuse a streamed PATCH: a hash pass, then a byte-identical second
 * pass as one monolithic PUT (determinism makes the two passes agree); for registries that refuse
 * both, chunked PATCHes (see transfer/upload.ts; the choice is remembered for the run). Either way
 * a transient failure starts the layer again on a new session, within --retries: a small one held
 * in memory is sent again as it is, a streamed one is re-produced from the directory.
 */
import { AbortedError, InputError } from '../errors.js';
import { createLayerStream, hashLayer, type LayerOptions, type LayerResult } from '../layer/index.js';
import type { UploadMethod } from '../registry/quirks.js';
import type { RepoEndpoint, TransferContext } from '../transfer/types.js';
import type { UploadSession } from '../registry/registry-client.js';
import { SpareSession } from '../transfer/spare-session.js';
import { Restarts } from '../transfer/restarts.js';
import { sleep } from '../abort.js';
import { HEAD_START_BYTES, LayerHeadStart, type StartedLayer } from './layer-head-start.js';
import { landedBeforeRestart, uploadBlob, type BlobBody } from '../transfer/upload.js';
import { APP_LAYER, type LayerLabel } from './layer-label.js';

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

/** Methods for the layer, best first: its digest is only known once it has been produced. */
const LAYER_METHODS: readonly UploadMethod[] = ['patch', 'put', 'chunked'];
/** Methods once the digest is known: one PUT with a length is the cheapest. */
const KNOWN_LAYER_METHODS: readonly UploadMethod[] = ['put', 'patch', 'chunked'];

/** How to upload one layer (all optional). */
export interface LayerUploadOptions {
  /** Forces one strategy (else streamed PATCH, then PUT, then chunked on refusal). */
  method?: UploadMethod;
  /** The layer was already produced once (for another target): its digest and size are known, so a monolithic PUT needs no hash pass. */
  known?: LayerResult;
  /** With `known`: the caller has just asked the target for that digest and it was absent, so the first attempt does not ask again. */
  absent?: boolean;
  /** How the layer is named in messages and progress events (default: the app layer). */
  name?: LayerLabel;
  /** An upload session opened while the target was asked about its tag: the first attempt starts on it. */
  spare?: SpareSession;
  /** The layer's build, already running: the first streamed attempt sends it. */
  headStart?: LayerHeadStart;
  /**
   * The layer is not committed (its closing PUT, or the one PUT of a small layer) before this
   * settles, and not at all when it rejects: the session is cancelled then. Push passes its base,
   * which the layer's build and upload overlap: a push whose base cannot be read writes no
   * manifest, and so leaves no blob either. A base read normally comes in long before the layer
   * is ready to commit, and then nothing waits; where it has not, only the commit does.
   */
  commitAfter?: Promise<unknown>;
  /**
   * A new pass of the layer's bytes begins at this target after one that said bytes already: a
   * restart (its bytes made again for a new session), the hash pass after a refused PATCH, or the
   * PUT after its hash pass. Said as the layer's start there again (layer-everywhere.ts), so a
   * progress display shows this pass from 0 rather than adding it onto the last (the line read
   * more than the layer's size, or stood still through the PUT); `size` where it is known.
   */
  newPass?: (size: number | undefined) => void;
}

/**
 * A layer whose gzip output is at most this many bytes is sent as one PUT with its digest, on the
 * session opened while it was built, instead of a streamed PATCH and then the closing PUT: one
 * round trip less, the price of holding it (and of not overlapping its last bytes' compression with
 * their upload, ~30 ms for 1 MiB on two cores). The code layer of a split push is usually this
 * small. A larger layer (up to the head start's bound, HEAD_START_BYTES) goes as one PUT only when
 * its build has already ended by the time its session is ready, as it has after a token round trip
 * on a network: nothing is waited for then, and the PATCH's round trip is saved. Otherwise it
 * streams, its compression overlapping its upload. The bytes and the digest are the same either way.
 */
export const SMALL_LAYER_BYTES = 1024 * 1024;

/** An upload that stopped uncommitted because what it waited for to commit (commitAfter) failed. */
class StoppedByBaseError extends AbortedError {}

/**
 * True when `err` is an upload that stopped uncommitted because its `commitAfter` (push's base)
 * failed: no failure of the target's, which is not set aside for it; the push reports the base's.
 */
export function stoppedByBase(err: unknown): boolean {
  return err instanceof StoppedByBaseError;
}

/**
 * Builds and uploads the layer. A transient failure of the streamed body re-produces the layer
 * and starts again, within the layer's one retry budget; a failure the transport has already
 * retried (the POST, the closing PUT) is final.
 */
export async function uploadLayer(target: RepoEndpoint, layer: LayerOptions, ctx: TransferContext, opts: LayerUploadOptions = {}): Promise<LayerUploadOutcome> {
  const { method, known, name = APP_LAYER, spare, commitAfter } = opts;
  const budget = new Restarts(ctx.transport.retryPolicy, ctx.transport.silence);
  const label = name.name;
  let committable = commitAfter === undefined;
  commitAfter?.then(
    () => (committable = true),
    () => undefined,
  );
  const beforeCommit = async (): Promise<void> => {
    if (committable) return;
    ctx.transport.logger.debug(`${label}: its bytes are ready; the commit waits for the base, so that a push whose base cannot be read leaves no blob`);
    try {
      await commitAfter;
    } catch (err) {
      // The push reports the base's failure; this upload only stops (its session is cancelled).
      throw new StoppedByBaseError(`${label}: not committed, the base could not be read`, { cause: err });
    }
  };
  // The first attempt: the session opens (POST) while the build makes its first bytes; a layer
  // of at most SMALL_LAYER_BYTES ends meanwhile and goes as one PUT.
  const streamed = method !== 'put' && !known;
  // The digest came from the build ahead, which ended within its bound (a dependency layer's, asked
  // for first: layer-everywhere.ts): what it held is those very bytes, sent as one PUT.
  let whole: { data: Buffer; result: LayerResult } | undefined;
  if (known && method === undefined && opts.headStart?.built?.digest === known.digest) whole = await opts.headStart.wholeIfEnded();
  if (!streamed) opts.headStart?.drop();
  // A head start the tag's answer stopped (the push then found the layer changed) is replaced;
  // one started with a small bound gets the usual one (see push.ts, startLayersEarly).
  if (streamed && opts.headStart?.running) opts.headStart.extend(HEAD_START_BYTES);
  const build = streamed ? (opts.headStart?.running ? opts.headStart : new LayerHeadStart(layer, ctx.signal)) : undefined;
  const ahead = build ? (spare ?? new SpareSession(target, ctx)) : spare;
  if (build && method === undefined) {
    // A failed build is left to the attempts below, which build the layer again and meet the failure there.
    whole = await build.whole(SMALL_LAYER_BYTES).catch(() => undefined);
  }
  let started: StartedLayer | undefined;
  let session: UploadSession | undefined;
  let asked = opts.absent === true && known !== undefined;
  // Whether the pass under way has said bytes: the next one is then a new pass (newPass).
  let saidThisPass = false;
  const say = (n: number): void => {
    saidThisPass = true;
    ctx.events?.bytes?.(name.key, n);
  };
  const passBegins = (size: number | undefined): void => {
    if (saidThisPass) opts.newPass?.(size);
    saidThisPass = false;
  };
  try {
    session = await ahead?.take();
    // A build that ended while the session opened goes as one PUT too (see SMALL_LAYER_BYTES).
    if (!whole && build && method === undefined) whole = await build.wholeIfEnded().catch(() => undefined);
    // Taken once the session is there: until then the build runs on (up to its bound), not paused.
    if (!whole) started = build?.take();
    for (;;) {
      let bytes = 0;
      let produced: Promise<LayerResult> | undefined;
      let hashed: LayerResult | undefined;
      // A small layer held whole is sent again as it is by a restart (a PUT that carried it is
      // never sent again to its session, HttpRequest.replayable); a streamed one is built again.
      const small = whole;
      let tried: UploadMethod | undefined;
      try {
        const out = await uploadBlob(
          target,
          {
            methods: method ? [method] : known || small ? KNOWN_LAYER_METHODS : LAYER_METHODS,
            // Known for a layer held whole or hashed ahead; a streamed one's is not, until it is built.
            size: small ? small.data.length : known?.size,
            what: label,
            session,
            beforeCommit,
            open: async (m): Promise<BlobBody | undefined> => {
              tried = m;
              if (small) {
                bytes = small.data.length;
                passBegins(bytes);
                say(bytes);
                produced = Promise.resolve(small.result);
                return { data: small.data, digest: small.result.digest, size: small.result.size };
              }
              if (m === 'put') {
                // A monolithic PUT needs the digest and size first: hash pass, then the same bytes again.
                started?.stream.destroy();
                started = undefined;
                // Its bytes are said as they are made, as a dependency layer's digest pass says
                // them (LayerEvents.digesting): over a large layer this pass is a long wait.
                if (!known) passBegins(undefined);
                hashed = known ?? (await hashLayer({ ...layer, signal: ctx.signal }, say));
                // A restart asks again: the attempt that failed may have stored it.
                if (!asked && (await target.client.headBlob(target.repo, hashed.digest)) !== undefined) return undefined;
                asked = false;
              }
              const { stream, result } = started ?? createLayerStream({ ...layer, signal: ctx.signal });
              started = undefined;
              produced = result;
              bytes = 0;
              // A PUT after this attempt's own hash pass sends the bytes that pass has said: a new
              // pass, which a display counts once in its totals (as the same layer made again for
              // a further target), while its line shows the upload going.
              passBegins(hashed?.size ?? known?.size);
              stream.on('data', (c: Buffer) => {
                bytes += c.length;
                say(c.length);
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
          throw new InputError(`${label}: its source changed while it was being uploaded (layer digest ${hashed.digest} became ${result.digest})`);
        }
        return { result, action: 'uploaded', bytes, retries: budget.spent, method: out.method };
      } catch (err) {
        session = undefined; // uploadBlob used it (or cancelled it)
        const delay = budget.delayAfter(err);
        if (delay === null) throw err;
        // A progress note, not a warning (transfer/resumable-read.ts says why).
        // A layer held whole is sent again as it is; a streamed one is built again.
        ctx.transport.logger.info(`${label}: upload failed (${(err as Error).message}); ${small ? 'sending it again' : 'building it again and sending it'} on a new session in ${delay} ms`);
        await sleep(delay, ctx.signal);
        // A layer held whole, its digest known: the attempt that failed may have stored it.
        if (small && (await landedBeforeRestart(target, small.result.digest, small.result.size, label, ctx))) {
          return { result: small.result, action: 'uploaded', bytes: small.data.length, retries: budget.spent, method: tried ?? 'put' };
        }
      }
    }
  } finally {
    // A build no attempt read: the session's POST failed, or every method was refused.
    build?.drop();
    started?.stream.destroy();
  }
}
