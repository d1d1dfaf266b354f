/**
 * Uploading the new layer. Default: one pass — the tar is built, gzipped and hashed while it
 * streams into a single PATCH, and `PUT ?digest=` closes the upload with the digest learned at
 * the end. Fallback, for registries that refuse a streamed PATCH: a hash pass, then a
 * byte-identical second pass as one monolithic PUT (determinism makes the two passes agree).
 * Either way a transient failure re-produces the layer from the directory and starts again.
 */
import { AbortedError, RegpushError } from '../errors.js';
import { retryDelay, sleep, RETRY_ERRNOS } from '../http/retry.js';
import { createLayerStream, hashLayer, type LayerOptions, type LayerResult } from '../layer/index.js';
import { isFallbackable } from '../registry/client.js';
import type { RepoEndpoint, TransferContext } from '../transfer/blobs.js';

/** How the layer got to the target. */
export interface LayerUploadOutcome {
  result: LayerResult;
  action: 'uploaded' | 'skipped';
  /** Bytes sent to the target. */
  bytes: number;
  retries: number;
  /** Which upload method worked. */
  method: 'patch' | 'put' | 'none';
}

function transient(err: unknown): boolean {
  if (err instanceof AbortedError || !(err instanceof RegpushError)) return false;
  const s = err.details.status;
  return RETRY_ERRNOS.has(String(err.details.errno ?? '')) || s === 408 || s === 429 || (typeof s === 'number' && s >= 500);
}

/** Builds and uploads the layer; `method` forces one strategy (else streamed PATCH, then PUT on refusal). */
export async function uploadLayer(target: RepoEndpoint, layer: LayerOptions, ctx: TransferContext, method?: 'patch' | 'put'): Promise<LayerUploadOutcome> {
  let retries = 0;
  let useMethod: 'patch' | 'put' = method ?? 'patch';
  const label = 'app layer';
  for (let attempt = 1; ; attempt++) {
    try {
      const out = useMethod === 'patch' ? await viaPatch(target, layer, ctx) : await viaPut(target, layer, ctx);
      return { ...out, retries };
    } catch (err) {
      if (useMethod === 'patch' && method === undefined && isFallbackable(err)) {
        ctx.transport.logger.info(`${target.client.registry} refused a streamed PATCH upload (${(err as Error).message}); using hash pass + PUT`);
        useMethod = 'put';
        continue;
      }
      const delay = transient(err) ? retryDelay(attempt, { errno: 'ECONNRESET' }, ctx.transport.retryPolicy) : null;
      if (delay === null) throw err;
      retries++;
      ctx.transport.logger.warn(`${label}: upload failed (${(err as Error).message}); rebuilding and retrying in ${delay} ms`);
      await sleep(delay, ctx.signal);
    }
  }
}

async function viaPatch(target: RepoEndpoint, layer: LayerOptions, ctx: TransferContext): Promise<Omit<LayerUploadOutcome, 'retries'>> {
  const session = await target.client.startUpload(target.repo);
  const { stream, result } = createLayerStream({ ...layer, signal: ctx.signal });
  let bytes = 0;
  stream.on('data', (c: Buffer) => {
    bytes += c.length;
    ctx.events?.bytes?.('layer', c.length);
  });
  stream.pause();
  result.catch(() => {});
  try {
    const next = await target.client.patchUpload(session.url, () => stream, false);
    const r = await result;
    await target.client.completeUpload(next, r.digest);
    return { result: r, action: 'uploaded', bytes, method: 'patch' };
  } catch (err) {
    stream.destroy();
    await target.client.cancelUpload(session.url);
    throw err;
  }
}

async function viaPut(target: RepoEndpoint, layer: LayerOptions, ctx: TransferContext): Promise<Omit<LayerUploadOutcome, 'retries'>> {
  const first = await hashLayer({ ...layer, signal: ctx.signal });
  if ((await target.client.headBlob(target.repo, first.digest)) !== undefined) return { result: first, action: 'skipped', bytes: 0, method: 'none' };
  const session = await target.client.startUpload(target.repo);
  const { stream, result } = createLayerStream({ ...layer, signal: ctx.signal });
  result.catch(() => {});
  let bytes = 0;
  stream.on('data', (c: Buffer) => {
    bytes += c.length;
    ctx.events?.bytes?.('layer', c.length);
  });
  stream.pause();
  try {
    await target.client.putUpload(session.url, first.digest, first.size, () => stream, false);
    const second = await result;
    if (second.digest !== first.digest) {
      throw new RegpushError('E_INPUT', `the app directory changed while it was being uploaded (layer digest ${first.digest} became ${second.digest})`);
    }
    return { result: second, action: 'uploaded', bytes, method: 'put' };
  } catch (err) {
    stream.destroy();
    await target.client.cancelUpload(session.url);
    throw err;
  }
}
