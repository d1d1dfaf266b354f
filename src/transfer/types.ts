/**
 * The vocabulary of blob transfers, shared by the engine (engine.ts), the single-blob moves
 * (blobs.ts), the upload methods (upload.ts) and the pipelines that report on them.
 */
import type { Transport } from '../http/transport.js';
import type { RegistryClient } from '../registry/client.js';
import type { UploadMemory } from '../registry/quirks.js';

/** A repository on a registry, with the client that reaches it. */
export interface RepoEndpoint {
  client: RegistryClient;
  repo: string;
}

/** What happened to one blob at one target. */
export type BlobAction = 'skipped' | 'mounted' | 'streamed' | 'uploaded' | 'foreign' | 'planned-mount' | 'planned-stream' | 'planned-upload';

/** Per-blob line of a report. */
export interface BlobReport {
  digest: string;
  size: number;
  mediaType: string;
  action: BlobAction;
  /** Bytes that crossed the wire to the target for this blob. */
  bytes: number;
  /** Whole-transfer retries and source resumes. */
  retries: number;
  resumes: number;
  /** Mounted from this repository of the target registry (a blob an earlier image of the run landed there). */
  mountedFrom?: string;
}

/** What the plan decided for one blob at one target. */
export type PlanAction = 'skip' | 'mount' | 'stream' | 'foreign';

/** Progress events, for the terminal display. */
export interface BlobEvents {
  /** `target` ("registry/repo") when one target is meant; absent for one read that feeds several. */
  start?(digest: string, action: BlobAction, size: number, target?: string): void;
  bytes?(digest: string, n: number): void;
  /** `target`: the "registry/repo" this blob is done at. */
  end?(report: BlobReport, target?: string): void;
}

/**
 * Blobs this run has landed in some repository of a registry, so a later repository of the same
 * registry can mount them instead of reading the source again (sync of many images that share
 * base layers). A blob still in flight is a promise: the next image waits for it to land.
 */
export class LandedBlobs {
  private readonly where = new Map<string, Promise<string | undefined>>();

  private static key(registry: string, digest: string): string {
    return `${registry} ${digest}`;
  }

  /** A repository of `registry` that holds (or is receiving) `digest`, once it has landed; undefined when none. */
  find(registry: string, digest: string): Promise<string | undefined> | undefined {
    return this.where.get(LandedBlobs.key(registry, digest));
  }

  /** Records that `landing` brings `digest` into `repo` of `registry`; resolves with the repo, or undefined if it failed. */
  note(registry: string, digest: string, repo: string, landing: Promise<unknown>): void {
    const k = LandedBlobs.key(registry, digest);
    if (this.where.has(k)) return;
    const p = landing.then(
      () => repo,
      () => {
        if (this.where.get(k) === p) this.where.delete(k); // a failed landing is no mount source
        return undefined;
      },
    );
    this.where.set(k, p);
  }
}

/** Shared context of one transfer run (a push, a copy, a sync). */
export interface TransferContext {
  transport: Transport;
  signal?: AbortSignal;
  events?: BlobEvents;
  /** How each registry takes uploads, learned during this run. */
  uploads: UploadMemory;
  /** Where this run has landed blobs (for mounts across repositories); absent: not tracked. */
  landed?: LandedBlobs;
}
