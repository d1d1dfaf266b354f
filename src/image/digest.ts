/**
 * Content digests: computing them over bytes, and checking that a digest is well
 * formed. Bytes are checked against their digest where they are read (manifests and configs in
 * registry/manifests.ts and registry/blob-reads.ts); streamed base blobs are counted on the way and checked by the target
 * registry's `PUT ?digest=` (see docs/architecture.md, "Who checks which bytes").
 */
import { createHash } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import { digestProblem } from '../ref/grammar.js';

/** Hash algorithms regpush computes and accepts in digests. */
export type DigestAlgorithm = 'sha256' | 'sha512';

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

/** True for "sha256:<64 lower hex>" and "sha512:<128 lower hex>": a digest a reference may name (digestProblem, ref/grammar.ts). */
export function isValidDigest(s: unknown): boolean {
  return typeof s === 'string' && digestProblem(s) === undefined;
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
