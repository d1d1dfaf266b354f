/** Uploading a small blob we hold in memory (a config): on a session opened ahead, or HEAD and upload session together; then the registry's upload method. */
import { sha256Digest } from '../image/digest.js';
import type { UploadSession } from '../registry/registry-client.js';
import type { SpareSession } from './spare-session.js';
import type { RepoEndpoint, TransferContext } from './types.js';
import { cancel, isUploadRefusal, KNOWN_BLOB_METHODS, openSession, uploadBlob } from './upload.js';

/**
 * Ensures the target has `bytes` as a blob; returns its digest and whether bytes were sent. With
 * `ctx`, the upload follows what the run learned about the registry (a refused monolithic PUT
 * falls back to PATCH); the Buffer body is replayable, so the transport retries it on its own.
 * `spare`: a session opened ahead for it (used with `ctx` only, by the first caller that takes it).
 */
export async function ensureBytesBlob(target: RepoEndpoint, bytes: Buffer, ctx?: TransferContext, spare?: SpareSession): Promise<{ digest: string; uploaded: boolean }> {
  const digest = sha256Digest(bytes);
  if (ctx) {
    const upload = async (session: UploadSession | undefined): Promise<{ digest: string; uploaded: boolean }> => {
      await uploadBlob(target, { methods: KNOWN_BLOB_METHODS, what: `blob ${digest}`, session, open: () => ({ data: bytes, digest, size: bytes.length }) }, ctx);
      return { digest, uploaded: true };
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
  if ((await target.client.headBlob(target.repo, digest)) !== undefined) return { digest, uploaded: false };
  const session = await target.client.startUpload(target.repo);
  try {
    await target.client.putUpload(session.url, digest, bytes.length, bytes, true);
  } catch (err) {
    await target.client.cancelUpload(session.url);
    throw err;
  }
  return { digest, uploaded: true };
}
