/** Uploading a small blob we hold in memory (a config): on a session opened ahead, or HEAD and upload session together; then the registry's upload method. */
import { sha256Digest } from '../image/digest.js';
import type { UploadSession } from '../registry/registry-client.js';
import { Restarts } from './restarts.js';
import { sleep } from '../abort.js';
import type { SpareSession } from './spare-session.js';
import type { RepoEndpoint, TransferContext } from './types.js';
import { cancel, isUploadRefusal, KNOWN_BLOB_METHODS, landedBeforeRestart, openSession, uploadBlob } from './upload.js';

/**
 * Ensures the target has `bytes` as a blob; returns its digest and whether bytes were sent. The
 * upload follows what the run learned about the registry (a refused monolithic PUT falls back to
 * PATCH). A request carrying the bytes is never sent again to its session (HttpRequest.replayable):
 * a transient failure starts the blob again on a new session, within one retry budget, the bytes
 * sent again as they are, unless a HEAD first finds that the failed attempt stored it. `spare`: a
 * session opened ahead for it (by the first caller that takes it).
 */
export async function ensureBytesBlob(target: RepoEndpoint, bytes: Buffer, ctx: TransferContext, spare?: SpareSession): Promise<{ digest: string; uploaded: boolean }> {
  const digest = sha256Digest(bytes);
  const upload = async (first: UploadSession | undefined): Promise<{ digest: string; uploaded: boolean }> => {
    const restarts = new Restarts(ctx.transport.retryPolicy, ctx.transport.silence);
    for (let session = first; ; session = undefined) {
      try {
        await uploadBlob(target, { methods: KNOWN_BLOB_METHODS, size: bytes.length, what: `blob ${digest}`, session, open: () => ({ data: bytes, digest, size: bytes.length }) }, ctx);
        return { digest, uploaded: true };
      } catch (err) {
        // (uploadBlob has cancelled its session.)
        const delay = restarts.delayAfter(err);
        if (delay === null) throw err;
        ctx.transport.logger.info(`blob ${digest}: upload failed (${(err as Error).message}); sending it again on a new session in ${delay} ms`);
        await sleep(delay, ctx.signal);
        if (await landedBeforeRestart(target, digest, bytes.length, `blob ${digest}`, ctx)) return { digest, uploaded: true };
      }
    }
  };
  // A session opened while the blob was being composed (push opens one for its config once it
  // knows the tag will change): the PUT goes at once, without a HEAD. The HEAD would only spare a
  // few kB where the target happens to hold the blob already, at the price of a round trip.
  const opened = spare ? await spare.take().catch((err: unknown) => (isUploadRefusal(err) ? undefined : Promise.reject(err))) : undefined;
  if (opened) return upload(opened);
  // The HEAD and the upload session go out together: a blob held in memory here is a config
  // just composed, nearly always new at the target, so the upload starts a round trip sooner
  // (HEAD ‖ POST → PUT instead of HEAD → POST → PUT). When the HEAD finds it after all, the
  // session is cancelled before this returns. The session is in the run's count from the POST's
  // answer on (openSession), not only once the HEAD has answered too.
  const [have, session] = await Promise.allSettled([target.client.headBlob(target.repo, digest), openSession(target, ctx)]);
  if (have.status === 'rejected' || have.value !== undefined) {
    if (session.status === 'fulfilled') await cancel(target, session.value.tracked, ctx);
    if (have.status === 'rejected') throw have.reason;
    return { digest, uploaded: false };
  }
  // A refused POST is left to uploadBlob, which opens its own session and falls back through the
  // methods as it always did; any other failure of the POST is final (it had the transport's retries).
  if (session.status === 'rejected' && !isUploadRefusal(session.reason)) throw session.reason;
  return upload(session.status === 'fulfilled' ? session.value : undefined);
}
