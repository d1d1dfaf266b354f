/**
 * Content digests: computing them over buffers and streams, and checking bytes against them.
 * Every blob regpush reads or moves goes through one of these, so a registry (or a proxy) that
 * hands back the wrong bytes is caught before anything points at them.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, ProtocolError, RegpushError } from '../errors.js';

/** Hash algorithms regpush computes and accepts in digests. */
export type DigestAlgorithm = 'sha256' | 'sha512';

/** Lower-case hex length of each algorithm; anything else is not a digest we accept. */
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** "sha256:<hex>" of the given bytes (strings are hashed as UTF-8). */
export function sha256Digest(buf: Buffer | string): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
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

/** Throws DigestMismatchError naming `what` unless `buf` hashes to `expected` (in expected's algorithm). */
export function verifyDigest(buf: Buffer | string, expected: string, what: string): void {
  assertDigest(expected, what);
  const algorithm = digestAlgorithm(expected);
  const actual = `${algorithm}:${createHash(algorithm).update(buf).digest('hex')}`;
  if (actual !== expected) {
    throw new DigestMismatchError(`${what}: digest mismatch: expected ${expected}, got ${actual}`, {
      details: { expected, actual },
    });
  }
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
    if (!(algorithm in HEX_LENGTH)) throw new RegpushError('E_INTERNAL', `unsupported digest algorithm ${algorithm}`);
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
    if (this.result === undefined) throw new RegpushError('E_INTERNAL', 'DigestStream.digest() called before the stream ended');
    return this.result;
  }
}

/** A DigestStream that fails with DigestMismatchError when the bytes do not match their descriptor. */
class VerifyingStream extends DigestStream {
  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
  ) {
    super(digestAlgorithm(expectedDigest));
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    // Fail as soon as the size is exceeded: a runaway body must not be streamed to the end first.
    if (this.expectedSize !== undefined && this.size + chunk.length > this.expectedSize) {
      callback(this.mismatch(`expected ${this.expectedSize} bytes, got more than that`));
      return;
    }
    super._transform(chunk, encoding, callback);
  }

  override _flush(callback: TransformCallback): void {
    super._flush((err) => {
      if (err) return callback(err);
      if (this.expectedSize !== undefined && this.size !== this.expectedSize) {
        return callback(this.mismatch(`expected ${this.expectedSize} bytes, got ${this.size}`));
      }
      const actual = this.digest();
      if (actual !== this.expectedDigest) return callback(this.mismatch(`digest mismatch: got ${actual}`));
      callback();
    });
  }

  private mismatch(problem: string): DigestMismatchError {
    return new DigestMismatchError(`${this.what} ${this.expectedDigest}: ${problem}`, {
      details: { expected: this.expectedDigest, expectedSize: this.expectedSize, size: this.size },
    });
  }
}

/**
 * A pass-through stream that hashes what flows and errors with DigestMismatchError at the end
 * (or as soon as more than expectedSize bytes arrive) when digest or size differ. `what` names
 * the content in the message, e.g. "layer" or "config".
 */
export function verifyingStream(expectedDigest: string, expectedSize?: number, what = 'blob'): DigestStream {
  assertDigest(expectedDigest, what);
  if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
    throw new ProtocolError(`${what} ${expectedDigest}: invalid size ${String(expectedSize)}`);
  }
  return new VerifyingStream(expectedDigest, expectedSize, what);
}
