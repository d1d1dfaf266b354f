/**
 * The blob reads of the Distribution API: HEAD and GET of `/v2/<repo>/blobs/<digest>`. A blob
 * comes back as a stream (the transport follows a redirect to storage without credentials), from a
 * byte offset where asked (Range); a small one (a config) can be read whole, capped, its digest
 * checked. Writes are blob-uploads.ts: reads share none of their session and interruption rules.
 */
import type { Readable } from 'node:stream';
import { DigestMismatchError, ProtocolError } from '../errors.js';
import { drain, readBody } from '../http/response.js';
import { isValidDigest, digestMismatch } from '../image/digest.js';
import type { RegistryHttp } from './registry-http.js';

export class BlobReads {
  constructor(private readonly http: RegistryHttp) {}

  /**
   * HEAD a blob; its size when present (-1 when the answer states no Content-Length: present, size
   * unknown), undefined when not. A redirect to storage is the registry's "present", not followed:
   * distribution with `redirect` on (and the registries built on it) answers a blob HEAD as a GET,
   * with a 307 to a storage URL, once it has found the blob (distribution/distribution#3691), and
   * that URL may be signed for a GET only, a HEAD there answered 403 (S3's presigned URLs, as
   * GHCR's storage gives: containerd/stargz-snapshotter#167). The size is then unknown (-1): every
   * caller has the blob's descriptor, and a second request to storage would cost a round trip for
   * what the 307 said.
   */
  async head(repo: string, digest: string): Promise<number | undefined> {
    const http = this.http;
    const res = await http.request({ method: 'HEAD', url: await http.refUrl('HEAD', repo, 'blobs', digest), answerAtStorageRedirect: true });
    await drain(res);
    if (res.status === 404) return undefined;
    // Only a redirect to storage comes back unfollowed (isStorageRedirect in http/redirect.ts).
    if (res.status >= 300 && res.status < 400 && res.headers['location']) return -1;
    if (res.status !== 200) return http.fail(res, `HEAD blob ${http.registry}/${repo}@${digest}`);
    const size = Number(res.headers['content-length']);
    return Number.isFinite(size) ? size : -1;
  }

  /**
   * GET a blob as a stream (redirects to storage followed without credentials). With `start`, asks
   * for the remaining bytes with Range; `partial` says whether the registry honoured it.
   */
  async get(repo: string, digest: string, start = 0): Promise<{ body: Readable; size?: number; partial: boolean }> {
    const http = this.http;
    const headers: Record<string, string> = {};
    if (start > 0) headers['range'] = `bytes=${start}-`;
    const res = await http.request({ method: 'GET', url: await http.refUrl('GET', repo, 'blobs', digest), headers, label: 'blob GET' });
    if (res.status !== 200 && res.status !== 206) return http.fail(res, `GET blob ${http.registry}/${repo}@${digest}`);
    if (res.status === 206 && start > 0) {
      // The bytes go on from `start` only if the answer says they start there: appended from
      // anywhere else they would make another blob, found out only when the target hashes it.
      // From byte 0 it is the whole blob, which the reader takes as a 200 (it skips what it has).
      const from = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers['content-range']?.trim() ?? '')?.[1];
      const len = Number(res.headers['content-length']);
      if (from === '0') return { body: res.body, size: Number.isFinite(len) ? len : undefined, partial: false };
      if (from === undefined || Number(from) !== start) {
        res.body.destroy();
        throw new ProtocolError(
          `GET blob ${http.registry}/${repo}@${digest}: asked for the bytes from ${start}, ` +
            `the registry answered 206 with Content-Range ${JSON.stringify(res.headers['content-range'] ?? '')}`,
          {
            details: { registry: http.registry },
          },
        );
      }
    }
    const len = Number(res.headers['content-length']);
    return { body: res.body, size: Number.isFinite(len) ? len : undefined, partial: res.status === 206 };
  }

  /** GET a small blob (a config) whole, capped, digest verified. */
  async getBytes(repo: string, digest: string, cap: number): Promise<Buffer> {
    const { body, size } = await this.get(repo, digest);
    const bytes = await readBody({ status: 200, headers: size === undefined ? {} : { 'content-length': String(size) }, url: '', body }, cap, `blob ${digest}`);
    const wrong = isValidDigest(digest) ? digestMismatch(bytes, digest) : undefined;
    if (wrong) {
      throw new DigestMismatchError(`blob ${this.http.registry}/${repo}@${digest} does not match its digest (got ${wrong})`, {
        details: { registry: this.http.registry },
      });
    }
    return bytes;
  }
}
