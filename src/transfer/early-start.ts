/**
 * The speculative start of a TargetSet (target-set.ts): for the largest layer, the requests that
 * begin its transfer go out together with the plan's HEAD instead of after it — the upload session
 * (POST) at each target and one source GET for all of them, or the mount POST within one registry.
 * If the HEAD finds the blob present, its session is cancelled (DELETE, off the critical path) and
 * its GET aborted. Before the first byte moves that is one round trip where HEAD → POST → GET took
 * three.
 *
 * Which blob: the largest layer only. Every blob shares the same links, so once one flows the
 * link is busy and the others, started a round trip or two later, finish no later; one blob also
 * bounds what a wrong guess costs (one POST, one DELETE, one aborted GET per image).
 *
 * When: only at a target where every tag this run looked up was absent and none has been written
 * yet (a first push or copy to that tag, where the blobs are usually missing); never in a dry
 * run, never for a blob the run knows present there or that another image of the run is landing
 * in that registry (a sync claims the landing at once, landings.ts), and no more in a
 * repository where a speculative start once found its blob present (a new tag in a repository
 * that holds the base already: from then on, HEAD first there, SetOwner.headFirstRepos). A tag
 * that exists means an update, where most blobs are present: there the plan stays HEAD first, so
 * an unchanged or incremental push, copy or sync costs what it did.
 */
import { isForeignLayer } from '../image/mediatypes.js';
import type { Descriptor } from '../image/types.js';
import type { Logger } from '../log.js';
import { Early, largestFirst, readAhead, type EarlyStart, type OpenedBlob } from './blobs.js';
import { cancel, cancelUnused, openSession, type HandedSession } from './upload.js';
import type { MountResult } from '../registry/registry-client.js';
import type { PlanAction, RepoEndpoint, TransferContext, TransferTarget } from './types.js';

/** What the early start needs of the run (SetOwner, target-set.ts, has it all). */
export interface EarlyStartOwner {
  readonly ctx: TransferContext;
  readonly logger: Logger;
  /** Plan only: nothing may be opened at a target. */
  readonly dryRun: boolean;
  /** Repositories ("registry/repo") where a speculative start found its blob present: the run plans HEAD first there. */
  readonly headFirstRepos: Set<string>;
  /** Keeps a clean-up (never rejects) until it settles. */
  track(p: Promise<void>): void;
}

/** What was started early for one blob. */
interface EarlyBlob {
  /** The source GET, shared by every target that streams the blob (the tee reads it once). */
  read?: Early<OpenedBlob>;
  sessions: Map<TransferTarget, Early<HandedSession>>;
  mounts: Map<TransferTarget, Early<MountResult>>;
}

/** What one TargetSet (and its subsets) started early, per blob digest, until a transfer takes it or it is released. */
export class EarlyStarts {
  private readonly early = new Map<string, EarlyBlob>();

  constructor(private readonly run: EarlyStartOwner) {}

  /** Whether requests for `digest` were started early and are still held. */
  has(digest: string): boolean {
    return this.early.has(digest);
  }

  /** The mount POST sent early for `digest` at `t`, if one was. */
  mountAt(digest: string, t: TransferTarget): Early<MountResult> | undefined {
    return this.early.get(digest)?.mounts.get(t);
  }

  /**
   * Starts the largest layer of `blobs` early at the targets of `live` where it speculates (see
   * the file's comment), and returns it; undefined when none starts. `busy` says a blob is being
   * moved already; with the run's record of landings, `claim` is called first for each target it
   * starts at, so that the run's other images wait for this landing rather than start it too.
   */
  start(
    source: RepoEndpoint,
    blobs: readonly Descriptor[],
    live: readonly TransferTarget[],
    busy: (digest: string) => boolean,
    claim: (t: TransferTarget, digest: string) => void,
  ): Descriptor | undefined {
    if (this.run.dryRun) return undefined;
    const d = largestFirst(blobs).find((b) => !isForeignLayer(b) && !isConfigLike(b));
    if (!d || this.early.has(d.digest) || busy(d.digest)) return undefined;
    const ts = live.filter((t) => this.speculates(t, source, d));
    if (!ts.length) return undefined;
    const e: EarlyBlob = { sessions: new Map(), mounts: new Map() };
    // In a sync the run's other images plan at the same time: the landing is claimed now, so they
    // wait for it (and mount from it) instead of starting the same blob themselves.
    if (this.run.ctx.landed) for (const t of ts) claim(t, d.digest);
    for (const t of ts) {
      const { client, repo } = t.ep;
      if (client.registry === source.client.registry) {
        e.mounts.set(t, new Early(client.mountBlob(repo, d.digest, source.repo), (r) => (r.mounted ? undefined : cancelUnused(t.ep, r.uploadUrl, this.run.ctx))));
      } else {
        e.sessions.set(t, new Early(openSession(t.ep, this.run.ctx), (s) => cancel(t.ep, s.tracked, this.run.ctx)));
      }
    }
    if (e.sessions.size) {
      e.read = readAhead(d, source);
    }
    this.early.set(d.digest, e);
    this.run.logger.debug(`${d.digest}: ${e.read ? 'upload session and source GET' : 'mount'} sent with the plan's HEAD (${ts.length} target(s))`);
    return d;
  }

  /** Whether `d` starts speculatively at `t` (see the file's comment). */
  private speculates(t: TransferTarget, source: RepoEndpoint, d: Descriptor): boolean {
    if (t.plans.has(d.digest) || t.present.has(d.digest)) return false;
    const { client, repo } = t.ep;
    // The source's own repository (a new tag for an image there) holds every blob its manifest
    // names: a mount from itself would be a write for nothing (the HEAD finds each blob).
    if (client.registry === source.client.registry && repo === source.repo) return false;
    if (this.run.headFirstRepos.has(`${client.registry}/${repo}`)) return false;
    if (client.tagsState?.(repo) !== 'absent') return false;
    const landed = this.run.ctx.landed;
    if (landed && (landed.claimed(client.registry, repo, d.digest) || (client.registry !== source.client.registry && landed.find(client.registry, d.digest)))) return false;
    return true;
  }

  /**
   * Releases what was started early for `blobs` and the plan made useless: a present blob's
   * session, a read no target streams. `waiting` says a target waits for another image's landing
   * of a blob (it moves it later, without what was started early).
   */
  releaseUnneeded(blobs: readonly Descriptor[], waiting: (t: TransferTarget, digest: string) => boolean): void {
    for (const d of blobs) {
      const e = this.early.get(d.digest);
      if (!e) continue;
      const uses = (t: TransferTarget, want: PlanAction): boolean => !t.failed && t.plans.get(d.digest) === want && !waiting(t, d.digest);
      for (const [t, s] of e.sessions) {
        if (t.plans.get(d.digest) === 'skip') this.noteHeadFirst(t, d);
        if (!uses(t, 'stream')) this.release(e.sessions, t, s);
      }
      for (const [t, m] of e.mounts) {
        if (t.plans.get(d.digest) === 'skip') this.noteHeadFirst(t, d);
        if (!uses(t, 'mount')) this.release(e.mounts, t, m);
      }
      if (e.read && e.sessions.size === 0) {
        this.run.track(e.read.release());
        e.read = undefined;
      }
      if (!e.read && !e.sessions.size && !e.mounts.size) this.early.delete(d.digest);
    }
  }

  private release<T>(m: Map<TransferTarget, Early<T>>, t: TransferTarget, e: Early<T>): void {
    m.delete(t);
    this.run.track(e.release());
  }

  /** `t` held a blob started early there although its tag is new: the run plans HEAD first in its repository from now on. */
  private noteHeadFirst(t: TransferTarget, d: Descriptor): void {
    const key = `${t.ep.client.registry}/${t.ep.repo}`;
    if (this.run.headFirstRepos.has(key)) return;
    this.run.headFirstRepos.add(key);
    this.run.logger.debug(`${key} already holds ${d.digest} although its tag is new: planning with a HEAD first there for the rest of this run`);
  }

  /** What was started early for `digest`, for its move to `ts` (moveBlobToMany's `early`): the source GET, and each target's session and mount. */
  forMove(digest: string, ts: readonly TransferTarget[]): { read?: Early<OpenedBlob>; at: Omit<EarlyStart, 'read'>[] } | undefined {
    const e = this.early.get(digest);
    return e && { read: e.read, at: ts.map((t) => ({ session: e.sessions.get(t), mount: e.mounts.get(t) })) };
  }

  /** Releases everything still held for `digest` (its transfer is over, or will never run). */
  releaseBlob(digest: string): void {
    const e = this.early.get(digest);
    if (!e) return;
    this.early.delete(digest);
    for (const s of e.sessions.values()) this.run.track(s.release());
    for (const m of e.mounts.values()) this.run.track(m.release());
    if (e.read) this.run.track(e.read.release());
  }

  /** Releases everything still held (the set has finished). */
  releaseAll(): void {
    for (const digest of [...this.early.keys()]) this.releaseBlob(digest);
  }
}

/** A config (or other small JSON blob): never the one a transfer waits for. */
function isConfigLike(d: Descriptor): boolean {
  return /json$/.test(d.mediaType.split(';')[0]!.trim());
}
