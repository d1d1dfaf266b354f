/**
 * Keeps a sync from grinding through an outage. An image that fails at a registry has retried its
 * requests first (`--retries`, up to ~15 s per request by default), so against a registry that is
 * down a sync of 2,000 images would take hours to report what its first minute shows. After
 * `threshold` images in a row failed at one registry with an outage's errors — a 5xx, a 429 after
 * the retries, a connection refused, lost or timed out — and none succeeded there in between, the
 * images not yet started that read from it, or write only to such registries, are not attempted:
 * each is reported failed at once, with the reason. A re-run copies what is missing.
 *
 * A pull limit used up (a 429 saying `ratelimit-remaining: 0`, which is not retried: quotaSpent in
 * http/retry.ts) stops a registry's pulls after one image, not the threshold: the count comes back
 * over hours, and every pull after it would be one more refused request. The limit is its reader's:
 * Docker Hub counts pulls per account when logged in and per address when anonymous
 * (https://docs.docker.com/docker-hub/usage/pulls/), so the stop is kept per registry and whose
 * pulls they are (RegistryClient.pullsOwner, the key the transport's own used-up mark has: an
 * entry read with another login there, or anonymously, goes on). It stays so for the run,
 * whatever succeeds there since, and the sync ends E_TOO_MANY_REQUESTS (exit 5), as the pull-limit
 * gate ends it. Such a registry is not down: the images not yet started that read from it still
 * get their HEAD-only check that the targets hold them (the limit counts manifest GETs, never a
 * HEAD), and only those that need a pull fail, without sending it (sync.ts, pullRefusal). Those
 * HEADs failing as an outage's do then stop it as a registry that is down (down()). Under the
 * pull-limit gate with --max-wait, such a 429 never gets here: the gate holds the registry's images
 * until a poll says the count is back (rate-gate.ts, spend), and fails them only after --max-wait.
 *
 * Only an image's source spends its pulls. A 429 saying the limit is used up that a TARGET met (its
 * referrers fallback-tag GET, or a write answered so, at Docker Hub) fails that image at that
 * target and nothing more (targetFailed): it is not the source's refusal even where both are one
 * registry (its account may not be the source's; where it is, the source's own next GET meets the
 * refusal, and the gate or failed() decides as for any pull), nor an outage (the registry answers:
 * its HEADs and writes cost no pull). A target is skipped only when it is down.
 */
import { tokenServiceFailed } from '../auth/token.js';
import { errorForCode, type RegpushError, TooManyRequestsError } from '../errors.js';
import { ownerAtMirror } from '../registry/mirrors.js';

/** Consecutive failed images at one registry that stop the rest: two rounds of `--images`, at least 8. */
export function outageThreshold(images: number): number {
  return Math.max(8, 2 * images);
}

/**
 * True for the errors a registry that is down or overloaded gives, after the retries. Not for a
 * pull the sync's own gate refused without sending it (`details.gateStopped`): the registry said
 * nothing, and counting those would stop its images' free HEAD checks as if it were down.
 */
function isOutage(err: RegpushError): boolean {
  if (err.details.gateStopped === true) return false;
  if (err.code === 'E_NETWORK' || err.code === 'E_TOO_MANY_REQUESTS') return true;
  // A token service answering 5xx (E_AUTH, tokenServiceFailed): every image at that registry needs
  // a token from it, so it is that registry's outage as much as its own 5xx would be.
  if (tokenServiceFailed(err)) return true;
  const status = err.details.status;
  return err.code === 'E_REGISTRY' && typeof status === 'number' && status >= 500;
}

/** True for the error of a 429 that said the pull limit is used up (http/response.ts). */
function isPullLimitSpent(err: RegpushError): boolean {
  return err.code === 'E_TOO_MANY_REQUESTS' && err.details.pullLimitSpent === true;
}

export class OutageBreaker {
  private readonly failing = new Map<string, { images: number; last: RegpushError }>();
  /** Readers (registry and whose pulls: readerKey) whose pull limit a 429 said is used up, with the registry and that error, in the order met. */
  private readonly spent = new Map<string, { registry: string; err: RegpushError }>();

  constructor(readonly threshold: number) {}

  /**
   * An image failed at `registry`, its source (or a tag list of it), read as `owner` (whose pulls:
   * RegistryClient.pullsOwner). The owner is asked only for a used-up pull limit: it is a credential
   * lookup (a credential helper's run, perhaps), which no other failure needs.
   */
  async failed(registry: string, err: RegpushError, owner: OwnerLookup): Promise<void> {
    if (isPullLimitSpent(err)) {
      const key = readerKey(registry, await owner());
      if (!this.spent.has(key)) this.spent.set(key, { registry, err });
      return;
    }
    this.outage(registry, err);
  }

  /**
   * An image failed at `registry`, as one of its targets. A used-up pull limit there fails that
   * image at that target only: it neither stops the registry's pulls as a source nor counts as its
   * outage (see the header).
   */
  targetFailed(registry: string, err: RegpushError): void {
    if (!isPullLimitSpent(err)) this.outage(registry, err);
  }

  private outage(registry: string, err: RegpushError): void {
    if (!isOutage(err)) return;
    const f = this.failing.get(registry);
    this.failing.set(registry, { images: (f?.images ?? 0) + 1, last: err });
  }

  /** An image was read from or written to `registry`: it answers. */
  succeeded(registry: string): void {
    this.failing.delete(registry);
  }

  /**
   * Why an image reading from `registry` as `owner` (its tag list, in expand.ts) is not attempted
   * (that reader's pull limit used up, or the registry down), or undefined while neither is known.
   * Not for a target: down() alone.
   */
  async refusal(registry: string, owner: OwnerLookup): Promise<RegpushError | undefined> {
    const spent = await this.spentFor(registry, owner);
    if (spent) {
      return new TooManyRequestsError(`not attempted: the pull limit of ${registry} is used up (${String(spent.details.pullLimit)}); a re-run once it has come back copies what is missing`, {
        details: { registry, pullLimitSpent: true },
      });
    }
    return this.down(registry);
  }

  /**
   * Why a manifest GET of an image reading from `registry` as `owner` is not sent: that reader's
   * pull limit is used up (a new error each time: each image's report line is its own). Undefined
   * while it is not.
   */
  async pullRefusal(registry: string, owner: OwnerLookup): Promise<RegpushError | undefined> {
    const spent = await this.spentFor(registry, owner);
    if (!spent) return undefined;
    return new TooManyRequestsError(
      `not copied: it needs a pull at ${registry}, whose pull limit is used up (${String(spent.details.pullLimit)}); ` +
        'a re-run once the limit has come back copies what is missing',
      {
        details: { registry, pullLimitSpent: true },
      },
    );
  }

  /**
   * The 429 that used up the pull limit of `owner` at `registry`, if one did. The owner is asked
   * (a credential lookup) only where some reader's limit there is used up: a sync of 2,000 images
   * with pulls to spare asks none.
   */
  private async spentFor(registry: string, owner: OwnerLookup): Promise<RegpushError | undefined> {
    if (![...this.spent.values()].some((s) => s.registry === registry)) return undefined;
    return this.spent.get(readerKey(registry, await owner()))?.err;
  }

  /** Why an image at `registry` is not attempted at all, not even its HEADs: the registry is down. Undefined while it is not known to be. */
  down(registry: string): RegpushError | undefined {
    const f = this.failing.get(registry);
    if (!f || f.images < this.threshold) return undefined;
    return errorForCode(
      f.last.code,
      `not attempted: ${f.images === 1 ? 'the last image' : `the last ${f.images} images`} at ${registry} failed, ` +
        `the last with: ${f.last.message}; a re-run copies what is missing`,
      {
        details: { registry, outage: true },
      },
    );
  }

  /**
   * The error that ends a sync in which a reader's pull limit was found used up, naming every such
   * limit (each registry and reader: a sync may meet several, at several registries or by several
   * logins at one) and how many of `failed` (the images that failed) they stopped; undefined when none was.
   */
  spentFailure(failed: readonly { source: string; error?: { code: string } }[]): RegpushError | undefined {
    const spent = [...this.spent.entries()].map(([key, s]) => ({ ...s, owner: key.slice(s.registry.length + 1) }));
    if (spent.length === 0) return undefined;
    const registries = [...new Set(spent.map((s) => s.registry))];
    const stopped = failed.filter((u) => u.error?.code === 'E_TOO_MANY_REQUESTS' && registries.some((r) => u.source.startsWith(`${r}/`))).length;
    const images =
      `${stopped} image${stopped === 1 ? '' : 's'} that needed pulls there ${stopped === 1 ? 'was' : 'were'} not copied, ` +
      `each stopped at its first refused pull or before it; a re-run once ${spent.length === 1 ? 'the limit has' : 'the limits have'} ` +
      'come back copies what is missing';
    const details = { registry: registries[0], registries, pullLimitSpent: true };
    // Readers at one registry are told apart by whose pulls they are; a registry with one reader
    // needs no name, unless that reader is a mirror's: the limit used up is then the mirror's, not
    // the registry's the line starts with, and a user told "docker.io" would wait on the wrong one.
    const shared = (registry: string) => spent.filter((s) => s.registry === registry).length > 1;
    const who = (s: (typeof spent)[number]) => (shared(s.registry) || ownerAtMirror(s.owner) ? ` (${readerName(s.owner)})` : '');
    if (spent.length === 1) {
      const { registry, err } = spent[0]!;
      return new TooManyRequestsError(`${registry}${who(spent[0]!)}: the pull limit is used up (${String(err.details.pullLimit)}): ${images}`, { details });
    }
    const named = spent.map((s) => `${s.registry}${who(s)}: ${String(s.err.details.pullLimit)}`);
    return new TooManyRequestsError(`the pull limits of ${spent.length} readers are used up (${named.join('; ')}): ${images}`, { details });
  }
}

/**
 * How a message names whose pulls `owner` (RegistryClient.pullsOwner) is: the account or address a
 * registry named (docker-ratelimit-source), a login's user name, or anonymous. Never a secret: a
 * credential's identity holds a digest of it, left out here.
 */
function readerName(owner: string): string {
  const atMirror = ownerAtMirror(owner);
  if (atMirror) return `through mirror ${atMirror.mirror}, ${readerName(atMirror.owner)}`;
  if (owner.startsWith('source:')) return `as ${owner.slice('source:'.length)}`;
  const who = owner.startsWith('credential:') ? owner.slice('credential:'.length) : owner;
  if (who === 'anonymous' || who === '') return 'anonymous';
  const user = /^user:(.*):[0-9a-f]{32}$/.exec(who)?.[1];
  return user !== undefined ? `as ${user}` : 'with a token';
}

/** Whose pulls an image's source reads spend (RegistryClient.pullsOwner), asked only when needed. */
export type OwnerLookup = () => Promise<string>;

/** The key of the pulls of `owner` at `registry` (the breaker's used-up marks). */
function readerKey(registry: string, owner: string): string {
  return `${registry}\n${owner}`;
}
