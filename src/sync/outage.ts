/**
 * Keeps a sync from grinding through an outage. An image that fails at a registry has retried its
 * requests first (`--retries`, up to ~15 s per request by default), so against a registry that is
 * down a sync of 2,000 images would take hours to report what its first minute shows. After
 * `threshold` images in a row failed at one registry with an outage's errors — a 5xx, a 429 after
 * the retries, a connection refused, lost or timed out — and none succeeded there in between, the
 * images not yet started that read from it, or write only to such registries, are not attempted:
 * each is reported failed at once, with the reason. A re-run copies what is missing.
 */
import { RegpushError } from '../errors.js';

/** Consecutive failed images at one registry that stop the rest: two rounds of `--images`, at least 8. */
export function outageThreshold(images: number): number {
  return Math.max(8, 2 * images);
}

/** True for the errors a registry that is down or overloaded gives, after the retries. */
export function isOutage(err: RegpushError): boolean {
  if (err.code === 'E_NETWORK' || err.code === 'E_TOO_MANY_REQUESTS') return true;
  const status = err.details.status;
  return err.code === 'E_REGISTRY' && typeof status === 'number' && status >= 500;
}

export class OutageBreaker {
  private readonly failing = new Map<string, { images: number; last: RegpushError }>();

  constructor(readonly threshold: number) {}

  /** An image failed at `registry` (as a unit's source, or one of its targets). */
  failed(registry: string, err: RegpushError): void {
    if (!isOutage(err)) return;
    const f = this.failing.get(registry);
    this.failing.set(registry, { images: (f?.images ?? 0) + 1, last: err });
  }

  /** An image was read from or written to `registry`: it answers. */
  succeeded(registry: string): void {
    this.failing.delete(registry);
  }

  /** Why an image at `registry` is not attempted, or undefined while it is not known to be down. */
  refusal(registry: string): RegpushError | undefined {
    const f = this.failing.get(registry);
    if (!f || f.images < this.threshold) return undefined;
    return new RegpushError(f.last.code, `not attempted: the last ${f.images} images at ${registry} failed, the last with: ${f.last.message}; a re-run copies what is missing`, {
      details: { registry, outage: true },
    });
  }
}
