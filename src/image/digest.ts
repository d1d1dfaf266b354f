/**
 * Content digests: computing them over buffers and streams, and checking that a digest is well
 * formed. Bytes are checked against their digest where they are read (manifests and configs in
 * registry/manifests.ts and registry/blob-reads.ts); streamed base blobs are counted on the way and checked by the target
 * registry's `PUT ?digest=` (see docs/architecture.md, "Who checks which bytes").
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { InternalError, ProtocolError } from '../errors.js';

/** Hash algorithms regpush computes and accepts in digests. */
export type DigestAlgorithm = 'sha256' | 'sha512';

/** Lower-case hex length of each algorithm; anything else is not a digest we accept. */
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** "sha256:<hex>" of the given bytes (strings are hashed as UTF-8). */
export function sha256Digest(buf: Buffer | string): string {
  return digestWith('sha256', buf);
}

/** "<algorithm>:<hex>" of the given bytes. */
function digestWith(algorithm: DigestAlgorithm, buf: Buffer | string): string {
  return `${algorithm}:${createHash(algorithm).update(buf).digest('hex')}`;
}

/**
 * Undefined when `bytes` hash to `digest` with the digest's own algorithm, else what they hash to
 * with it (for the error line). A sha512 reference is checked as sha512, not compared with the
 * sha256 regpush computes everywhere else.
 */
export function digestMismatch(bytes: Buffer, digest: string): string | undefined {
  const actual = digestWith(digestAlgorithm(digest), bytes);
  return actual === digest ? undefined : actual;
}

/** True for "sha256:<64 lower hex>" and "sha512:<128 lower hex>". */
export function isValidDigest(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(s);
  return m !== null && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Throws ProtocolError naming `what` unless `s` is a valid digest (digests come from registries and manifests). */
export function assertDigest(s: unknown, what: string): asserts s is string {
  if (!isValidDigest(s)) {
    throw new ProtocolError(`${what}: invalid digest ${JSON.stringify(s)} (expected sha256:<64 hex> or sha512:<128 hex>)`);
  }
}

/** The algorithm part of a valid digest. */
export function digestAlgorithm(digest: string): DigestAlgorithm {
  assertDigest(digest, 'digest');
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** A pass-through stream that hashes and counts what flows through it; digest() is available after the end. */
export class DigestStream extends Transform {
  /** Bytes seen so far. */
  size = 0;
  /** The algorithm this stream hashes with. */
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private result: string | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    super();
    if (!(algorithm in HEX_LENGTH)) throw new InternalError(`unsupported digest algorithm ${algorithm}`);
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.result = `${this.algorithm}:${this.hash.digest('hex')}`;
    callback();
  }

  /** "algorithm:hex" of everything that passed; throws if the stream has not ended yet. */
  digest(): string {
    if (this.result === undefined) throw new InternalError('DigestStream.digest() called before the stream ended');
    return this.result;
  }
}
