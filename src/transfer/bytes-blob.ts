/** Uploading a small blob we hold in memory (a config): HEAD first, then one monolithic PUT. */
import { sha256Digest } from '../image/digest.js';
import type { RepoEndpoint } from './blobs.js';

/** Ensures the target has `bytes` as a blob; returns its digest and whether bytes were sent. */
export async function ensureBytesBlob(target: RepoEndpoint, bytes: Buffer): Promise<{ digest: string; uploaded: boolean }> {
  const digest = sha256Digest(bytes);
  if ((await target.client.headBlob(target.repo, digest)) !== undefined) return { digest, uploaded: false };
  const session = await target.client.startUpload(target.repo);
  try {
    // A Buffer body is replayable, so the transport may retry this PUT on its own.
    await target.client.putUpload(session.url, digest, bytes.length, bytes, true);
  } catch (err) {
    await target.client.cancelUpload(session.url);
    throw err;
  }
  return { digest, uploaded: true };
}
