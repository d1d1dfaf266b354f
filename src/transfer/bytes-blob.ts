/** Uploading a small blob we hold in memory (a config): HEAD first, then the registry's upload method. */
import { sha256Digest } from '../image/digest.js';
import type { RepoEndpoint, TransferContext } from './types.js';
import { KNOWN_BLOB_METHODS, uploadBlob } from './upload.js';

/**
 * Ensures the target has `bytes` as a blob; returns its digest and whether bytes were sent. With
 * `ctx`, the upload follows what the run learned about the registry (a refused monolithic PUT
 * falls back to PATCH); the Buffer body is replayable, so the transport retries it on its own.
 */
export async function ensureBytesBlob(target: RepoEndpoint, bytes: Buffer, ctx?: TransferContext, opts: { head?: boolean } = {}): Promise<{ digest: string; uploaded: boolean }> {
  const digest = sha256Digest(bytes);
  // `head: false`: the caller knows the blob is new (or small enough that sending it again costs less than asking).
  if (opts.head !== false && (await target.client.headBlob(target.repo, digest)) !== undefined) return { digest, uploaded: false };
  if (ctx) {
    await uploadBlob(target, { methods: KNOWN_BLOB_METHODS, what: `blob ${digest}`, open: () => ({ data: bytes, digest, size: bytes.length }) }, ctx);
    return { digest, uploaded: true };
  }
  const session = await target.client.startUpload(target.repo);
  try {
    await target.client.putUpload(session.url, digest, bytes.length, bytes, true);
  } catch (err) {
    await target.client.cancelUpload(session.url);
    throw err;
  }
  return { digest, uploaded: true };
}
