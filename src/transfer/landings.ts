/**
 * A TargetSet's part in the landings of a run of many images (sync, copy --all-tags), kept in the
 * run's LandedBlobs (types.ts): the blobs its targets are about to land, announced so that the
 * run's other images wait for them (and skip them in that repository, or mount them from it)
 * instead of writing them a second time, and the other images' landings its own targets wait for.
 * A wait never holds a transfer slot, and each target waits on its own, so two images waiting on
 * each other's blobs cannot deadlock. One per set, shared with its subsets.
 */
import { untilAborted } from '../abort.js';
import { isForeignLayer } from '../image/mediatypes.js';
import type { Descriptor } from '../image/types.js';
import type { PlanAction, RepoEndpoint, TransferContext, TransferTarget } from './types.js';

/** What the landings need of the run (SetOwner, target-set.ts, has it all). */
export interface LandingsOwner {
  readonly ctx: TransferContext;
  readonly signal: AbortSignal;
}

/** The key of a blob at a target: its registry, repository and digest. */
export function landingKey(t: TransferTarget, digest: string): string {
  return `${t.ep.client.registry}/${t.ep.repo} ${digest}`;
}

/** The landings one TargetSet (and its subsets) announced, and those its targets wait for. */
export class Landings {
  /** Landings this set announced (for mounts by other images of the run), settled as blobs land or at withdrawAll(). */
  private readonly announced = new Map<string, (ok: boolean) => void>();
  /** Targets waiting for another image's landing of a blob (in their own repository, or one to mount from). */
  private readonly waits = new Map<string, { sameRepo: boolean; landing: Promise<string | undefined> }>();

  constructor(private readonly run: LandingsOwner) {}

  /**
   * Where landings are kept per repository only (copy --all-tags: LandedBlobs without mounts
   * across repositories), the set that plans a blob first claims its landing at every target at
   * once, before any HEAD. Another image planning that blob meanwhile then waits for this set's
   * landing at every target, instead of landing it at some targets itself while waiting at others
   * (each image's tee would read the source once: twice in all). A claim whose HEAD finds the blob
   * present is settled at once (planned); one never moved is withdrawn by settleAt or withdrawAll.
   */
  claimAhead(blobs: readonly Descriptor[], live: readonly TransferTarget[]): void {
    const landed = this.run.ctx.landed;
    if (!landed || landed.acrossRepositories) return;
    for (const d of blobs) {
      if (isForeignLayer(d)) continue; // never moved, so never landed
      for (const t of live) {
        const key = landingKey(t, d.digest);
        if (t.plans.has(d.digest) || t.present.has(d.digest) || this.announced.has(key) || landed.claimed(t.ep.client.registry, t.ep.repo, d.digest)) continue;
        this.claim(t, d.digest);
      }
    }
  }

  /** Records that `t` is about to land `digest` in its repository; settled when confirmed (landed), or withdrawn. Only with the run's LandedBlobs. */
  claim(t: TransferTarget, digest: string): void {
    let settle!: (ok: boolean) => void;
    const landing = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error('not landed')))));
    landing.catch(() => undefined);
    this.run.ctx.landed!.note(t.ep.client.registry, digest, t.ep.repo, landing);
    this.announced.set(landingKey(t, digest), settle);
  }

  /**
   * The plan of `d` at `t` (`plan`, just made by its HEAD) with the run's record of landed blobs:
   * a blob another image is landing in this very repository is waited for and skipped; one landed
   * (or landing) in another repository of the registry is mounted from there; otherwise this
   * target claims the landing, for the images after it. Without that record, `plan` as it is.
   */
  planned(t: TransferTarget, source: RepoEndpoint, d: Descriptor, plan: PlanAction): PlanAction {
    const landed = this.run.ctx.landed;
    const registry = t.ep.client.registry;
    const key = landingKey(t, d.digest);
    if (landed && plan === 'skip') {
      this.announced.get(key)?.(true); // claimed by a speculative start: it is there
      landed.note(registry, d.digest, t.ep.repo, Promise.resolve());
    }
    // A target set aside while this HEAD was out claims nothing: setAside has withdrawn its claims
    // already, and one made now would stand until the set's finish(), a target of this very image
    // in the same registry waiting for it (a deadlock).
    else if (landed && !t.failed && (plan === 'stream' || plan === 'mount') && !this.announced.has(key)) {
      const here = landed.claimed(registry, t.ep.repo, d.digest);
      const elsewhere = registry === source.client.registry ? undefined : landed.find(registry, d.digest);
      if (here) {
        this.waits.set(key, { sameRepo: true, landing: here.then((ok) => (ok ? t.ep.repo : undefined)) });
        plan = 'mount';
      } else {
        if (elsewhere && plan === 'stream') {
          this.waits.set(key, { sameRepo: false, landing: elsewhere });
          plan = 'mount';
        }
        this.claim(t, d.digest);
      }
    }
    return plan;
  }

  /** Whether `t` waits for another image's landing of `digest` (afterLanding moves it there). */
  waiting(t: TransferTarget, digest: string): boolean {
    return this.waits.has(landingKey(t, digest));
  }

  /** Whether another image of the run lands `digest` in `t`'s very repository (a real run waits for it and skips it). */
  landsHere(t: TransferTarget, digest: string): boolean {
    return this.waits.get(landingKey(t, digest))?.sameRepo === true;
  }

  /** `digest` has landed at `t` and is confirmed: the landing announced there settles. */
  landed(t: TransferTarget, digest: string): void {
    this.announced.get(landingKey(t, digest))?.(true);
  }

  /**
   * Once the landing `t` waits for (waiting) has settled: `d` is skipped there (landed in its
   * repository), or `move` runs (mounted from the repository it landed in, or streamed after all).
   */
  async afterLanding(d: Descriptor, t: TransferTarget, move: () => Promise<void>): Promise<void> {
    const key = landingKey(t, d.digest);
    let wait = this.waits.get(key)!;
    for (;;) {
      const from = await untilAborted(this.run.signal, wait.landing);
      if (t.failed) return void this.waits.delete(key);
      if (wait.sameRepo && from !== undefined) {
        this.waits.delete(key);
        t.blobs.push({ digest: d.digest, size: d.size, mediaType: d.mediaType, action: 'skipped', bytes: 0, retries: 0, resumes: 0 });
        t.present.add(d.digest);
        return;
      }
      if (from !== undefined) break; // landed in another repository: mounted from there
      // The landing failed. In another repository: this target streams the blob. In this one,
      // whose claim is now withdrawn (LandedBlobs.note): of the images that waited for it, the
      // first to get here claims the next landing and streams the blob; the others find that
      // claim and wait for it in their turn, rather than each writing the blob into the
      // repository at once (distribution/distribution#4489).
      const next = wait.sameRepo ? this.run.ctx.landed?.claimed(t.ep.client.registry, t.ep.repo, d.digest) : undefined;
      if (!next) {
        t.plans.set(d.digest, 'stream');
        if (wait.sameRepo) this.claim(t, d.digest);
        break;
      }
      wait = { sameRepo: true, landing: next.then((ok) => (ok ? t.ep.repo : undefined)) };
      this.waits.set(key, wait);
    }
    this.waits.delete(key);
    await move();
  }

  /** Settles (and forgets) the landings announced at `t`: landed, or withdrawn. */
  settleAt(t: TransferTarget, landed: boolean): void {
    const prefix = landingKey(t, '');
    for (const [key, settle] of this.announced) {
      if (!key.startsWith(prefix)) continue;
      settle(landed);
      this.announced.delete(key);
    }
  }

  /** Withdraws every landing announced and not confirmed (a failed target, a dry run, an error). */
  withdrawAll(): void {
    for (const settle of this.announced.values()) settle(false); // a settled promise ignores a second call
    this.announced.clear();
  }
}
