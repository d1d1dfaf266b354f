/**
 * How many blob transfers and images run at once: the defaults and the one range check of
 * `--jobs`/`--images` (`jobs`/`images`), and the HEADs and manifest PUTs of an image's targets
 * (MIN_PLAN_CONCURRENCY). A module of its own, importing only the error classes,
 * so the CLI and the library's public types reach it without the engine.
 */
import { UsageError } from '../errors.js';

/**
 * Default parallel blob transfers. Measured (2026-11-27, 2 vCPU, cold cross-registry push of a
 * 322 MB four-layer base between two local registries, 3 interleaved rounds): --jobs 1/2/4/8 took
 * 3.18/2.83/2.88/3.13 s (medians). 2 and 4 are equal within noise; 4 keeps every layer of a
 * typical base in flight, and more only adds contention with the registries for the two cores.
 */
export const DEFAULT_JOBS = 4;

/**
 * Default images in flight: sync's units, copy --all-tags's tags. Each holds up to --jobs blob
 * transfers; 4 × 4 keeps two cores and a registry busy without one slow image holding up the rest
 * (measured with the bench's sync scenario: docs/performance.md).
 */
export const DEFAULT_IMAGES = 4;

/**
 * Checks a jobs count; the one rule for every command. `name` is what the message calls it: the
 * CLI's `--jobs`, or the library's option path (`push(): jobs`).
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function checkJobs(jobs: number | undefined, name: string): number {
  const n = jobs ?? DEFAULT_JOBS;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`${name} must be a whole number from 1 to 64 (got ${jobs})`);
  return n;
}

/**
 * Checks an images count (`--images`, `sync(): images`): the same rule as jobs.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function checkImages(images: number | undefined, name: string): number {
  return checkJobs(images ?? DEFAULT_IMAGES, name);
}

/**
 * HEADs (and manifest PUTs) in flight at once: cheap requests, so more than --jobs — as many as
 * the transport keeps connections per registry (16): a Docker Hub multi-platform image has 16 or
 * more child manifests and as many small blobs, and each round of them costs a round trip.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export const MIN_PLAN_CONCURRENCY = 16;
