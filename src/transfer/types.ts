/**
 * The vocabulary of blob transfers, shared by the engine (engine.ts), the single-blob moves
 * (blobs.ts), the upload methods (upload.ts) and the pipelines that report on them.
 */
import type { OptionNames } from '../option-names.js';
import type { Transport } from '../http/transport.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { UploadMemory } from '../registry/quirks.js';
import type { UploadSessions } from './sessions.js';
import type { Turns } from './turns.js';
import type { RepoMemory } from './repo-memory.js';
import type { TakenOnWord } from './on-word.js';
import type { Shape } from '../options-check.js';
import type { BlobEvents, BlobReport } from './blob-report.js';
import type { ImageReference } from '../ref/reference.js';
import type { RegpushError } from '../errors.js';

export type { BlobAction, BlobEvents, BlobReport } from './blob-report.js';

/** A repository on a registry, with the client that reaches it. */
export interface RepoEndpoint {
  client: RegistryClient;
  repo: string;
}

/** What the plan decided for one blob at one target. */
export type PlanAction = 'skip' | 'mount' | 'stream' | 'foreign';

/** One target repository of an image and what happened there (a TargetSet's, target-set.ts). */
export interface TransferTarget {
  ref: ImageReference;
  ep: RepoEndpoint;
  /** Tags to write. */
  tags: string[];
  /** What planning decided per blob digest. */
  plans: Map<string, PlanAction>;
  /** Blobs known to be at the target in this run (skipped, confirmed, or seen by the caller). */
  present: Set<string>;
  /** One line per blob moved (or planned, in a dry run). */
  blobs: BlobReport[];
  /** Why this target was set aside. */
  failed?: RegpushError;
  /**
   * A dry run's plan for this target could not check that the credentials may write there, and
   * why (TargetSet.checkWrites); absent where it did, or where nothing is to be written.
   */
  writeNotChecked?: string;
  /**
   * The tags whose manifest PUT the registry answered with success in this run (ManifestCommit), the
   * tags found holding the manifest already (not written again), the first digest written or found
   * under them, and the tags whose PUT was cut off once the run's signal had fired (the request was
   * on its way: it may have taken effect at the registry; one cut while still queued, unsent, is
   * not among them). An interrupted copy or push says from them what each target holds (its
   * error's details.result).
   */
  tagsWritten?: string[];
  tagsUnchanged?: string[];
  digestWritten?: string;
  tagsCut?: string[];
  /**
   * The digests whose manifest PUT by digest (a referrer's, found through its subject) was cut off
   * once the run's signal had fired, as tagsCut says for a tag: it may have taken effect there.
   */
  digestsCut?: string[];
}

/**
 * The shape of BlobEvents, for checkOptions (options-check.ts): callbacks, each optional. `work` is
 * push's (bytes of local work); the CLI's GC pacing (src/cli/gc-pacing.ts) adds one to the events
 * of every operation, so every operation knows the name.
 */
const BLOB_EVENTS_SHAPE = { start: 'function', bytes: 'function', end: 'function', work: 'function' } satisfies Record<string, Shape>;

/**
 * The names the `events` option of push(), copy() and sync() takes: every progress callback any of
 * the three calls (each calls only its own). TypeScript lets one progress object serve them all (a
 * SyncEvents or PushEvents object is assignable to each operation's events type), so a script's
 * reporter must not be refused by the operation that does not call some of its callbacks; a name
 * none of them calls is still a misspelling. `close` is the CLI's unit display's (sync).
 */
export const PROGRESS_EVENTS_SHAPE = {
  ...BLOB_EVENTS_SHAPE,
  phase: 'function',
  unitStart: 'function',
  unitEnd: 'function',
  waiting: 'function',
  close: 'function',
} satisfies Record<string, Shape>;

/**
 * Blobs this run has landed (or is landing) in repositories of a registry. Two uses in a sync of
 * many images:
 * - a blob landed in one repository is mounted into the next that needs it, instead of being
 *   read from the source again (`find`);
 * - a blob is written into one repository once: an image that needs it in a repository where
 *   another image of the run is landing it waits and skips it (`claimed`). Writing it again at
 *   the same time is not only wasted: CNCF distribution rewrites the repository's link file in
 *   place, and a manifest PUT that reads it meanwhile fails with DIGEST_INVALID /
 *   MANIFEST_BLOB_UNKNOWN (seen here with two tags of one repository synced at once; empty link
 *   files: distribution/distribution#4489; the same failure in a concurrent syncer:
 *   AliyunContainerService/image-syncer#7).
 * An entry is a promise: in flight until the blob is confirmed; one that fails is withdrawn.
 */
export class LandedBlobs {
  /** @param acrossRepositories whether find() offers a repository as a mount source for the registry's others (false: landings are only waited for in their own repository). */
  constructor(readonly acrossRepositories = true) {}

  /** "registry digest" → a repository holding it. */
  private readonly anyRepo = new Map<string, Promise<string | undefined>>();
  /** "registry repo digest" → whether it landed there. */
  private readonly perRepo = new Map<string, Promise<boolean>>();

  /** A repository of `registry` that holds (or is receiving) `digest`; resolves undefined if that landing failed. */
  find(registry: string, digest: string): Promise<string | undefined> | undefined {
    if (!this.acrossRepositories) return undefined;
    return this.anyRepo.get(`${registry} ${digest}`);
  }

  /** The landing of `digest` into `repo` of `registry` this run has started, if any. */
  claimed(registry: string, repo: string, digest: string): Promise<boolean> | undefined {
    return this.perRepo.get(`${registry} ${repo} ${digest}`);
  }

  /**
   * Records that `landing` brings `digest` into `repo` (first claim of that repository wins, while
   * it stands). A claim that fails is withdrawn, so the image that lands the blob after it (the
   * one that waited, or one planned later) claims it in its turn, and the images planned during
   * that second landing wait for it instead of writing the blob there too.
   */
  note(registry: string, digest: string, repo: string, landing: Promise<unknown>): void {
    const rk = `${registry} ${repo} ${digest}`;
    if (this.perRepo.has(rk)) return;
    const ok: Promise<boolean> = landing.then(
      () => true,
      () => {
        if (this.perRepo.get(rk) === ok) this.perRepo.delete(rk);
        return false;
      },
    );
    this.perRepo.set(rk, ok);
    const k = `${registry} ${digest}`;
    if (this.anyRepo.has(k)) return;
    const where: Promise<string | undefined> = ok.then((landed) => {
      if (landed) return repo;
      if (this.anyRepo.get(k) === where) this.anyRepo.delete(k); // a failed landing is no mount source
      return undefined;
    });
    this.anyRepo.set(k, where);
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
  /**
   * Uploads the registry closed with a 201 naming the blob's digest (`registry/repo digest`,
   * see statedKey): the engine takes that answer as the blob's confirmation instead of a HEAD.
   */
  stated?: Set<string>;
  /** The blobs of `stated` the engine took on that word, rechecked when a manifest naming one is refused with MANIFEST_BLOB_UNKNOWN. */
  onWord?: TakenOnWord;
  /** The upload sessions open in this run, with the state the registry last answered (sessions.ts). */
  sessions?: UploadSessions;
  /**
   * The read-modify-writes of OCI fallback indexes (`sha256-<hex>` tags at a target without the
   * referrers API), one at a time per target repository and subject across the run: two images
   * copied at once (sync units, copy --all-tags's tags) may bring referrers of one subject to one
   * repository, and each would otherwise write an index without the other's (listInFallbackIndex).
   */
  fallbackIndexes?: Turns;
  /** Tag lists and whether a repository has the referrers API, asked once per repository for the run (repo-memory.ts). */
  repos: RepoMemory;
  /** The operation's option names where it has a `format` (push, copy): a manifest the target refuses is advised the other one (manifest-commit.ts). */
  formatNames?: OptionNames;
}

/** The key of an upload in TransferContext.stated. */
export function statedKey(registry: string, repo: string, digest: string): string {
  return `${registry}/${repo} ${digest}`;
}
