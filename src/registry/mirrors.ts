/**
 * Reading through registry mirrors (pull-through caches): a RegistryClient that tries each mirror
 * of a repository in order and falls back to the registry itself (the upstream) when a mirror
 * does not have the content, refuses us, fails or cannot be reached, as dockerd and
 * containers/image do. Writes (manifests, uploads, mounts, deletes) only ever go to the upstream.
 * A mirror that fails, or refuses us whatever we ask, is not asked again in the run; one that
 * refuses one repository is not asked again for that repository, and still is for the others
 * (refusesRepository).
 *
 * Content is trusted by digest only: a manifest fetched by digest is hashed and compared by the
 * client; a blob's digest is checked by the target registry when it lands and by getBlobBytes
 * for configs. A mirror that serves bytes not matching their digest is not asked again in this
 * run; a streamed blob the target refused for its digest is then read again from the next mirror
 * or the upstream (distrustMirror, called by the transfer). A tag is the one thing a mirror answers on trust (that is what a mirror is for), so a tag
 * resolved through a mirror is logged with the mirror's name and reported (`mirror` on the
 * fetched manifest).
 *
 * Tag lists and referrers lists are read from the upstream only: a pull-through cache lists what it
 * has cached, and a partial list passed off as the whole one would make `copy --all-tags` skip
 * tags, and `copy --referrers` signatures, silently (an empty answer from a cache with the
 * referrers API would also hide cosign's tags, which are looked for only without the API).
 */
import type { Readable } from 'node:stream';
import { refusalReach } from '../auth/refusals.js';
import { errorForCode, ProtocolError, RegpushError, type ErrorCode } from '../errors.js';
import type { SendProfile } from '../http/transport.js';
import type { RequestBody } from '../http/types.js';
import type { Logger } from '../log.js';
import type { MirrorTarget } from './mirror-config.js';
import type { FetchedManifest, ManifestHead, MountResult, PullsReader, RegistryClient, UploadSession } from './registry-client.js';

/**
 * How long a mirror has for its answer to start (ms), and then for each silence of its body,
 * before the read moves on to the next mirror or the upstream; REGPUSH_IDLE_TIMEOUT_MS
 * (idleTimeoutMs) lowers it, never raises it. A pull-through cache answers a HEAD or a cached GET
 * in milliseconds, and a miss it fetches upstream for within a few seconds; 15 s leaves a slow
 * cache its miss, while a hung or firewalled one costs 15 s, not the six 60 s attempts a registry
 * the run depends on is given. A body is held to silences, not to a total: a large blob that keeps
 * coming is finished from the mirror; one that stops is read on from where it stopped elsewhere
 * (MirroredClient.getBlob).
 */
export const MIRROR_ANSWER_TIMEOUT_MS = 15_000;

/** Connection failures before any answer that a mirror request is sent again for: a keep-alive socket the mirror had already closed. */
const MIRROR_RETRY_ERRNOS: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

/**
 * The send profile of mirror clients: a failing mirror falls through at once, as dockerd and
 * containerd try each mirror host once and go on to the next endpoint. No retry for an answer
 * (5xx, 429: the upstream is the better next try than the same cache a second later) nor for the
 * deadline; one for a connection lost before anything came back (at most --retries).
 */
export function mirrorSendProfile(transport: { retryPolicy: { retries: number }; idleTimeoutMs: number }): SendProfile {
  return {
    retry: { retries: Math.min(1, transport.retryPolicy.retries), statuses: new Set<number>(), errnos: MIRROR_RETRY_ERRNOS },
    answerTimeoutMs: Math.min(MIRROR_ANSWER_TIMEOUT_MS, transport.idleTimeoutMs),
  };
}

/**
 * The owner key of the pulls a mirror's reads spend (MirroredClient.pullsOwner): its reader's
 * there, named with the mirror, so that it is never the key of a reader of the registry itself.
 */
export function mirrorOwner(mirror: string, owner: string): string {
  return `mirror:${mirror}\n${owner}`;
}

/** The mirror and its reader's owner key in a mirrorOwner key; undefined for a registry's own. */
export function ownerAtMirror(key: string): { mirror: string; owner: string } | undefined {
  const m = /^mirror:([^\n]*)\n([\s\S]*)$/.exec(key);
  return m ? { mirror: m[1]!, owner: m[2]! } : undefined;
}

/** A mirror of one repository, with the client that reaches it. */
export interface MirrorRoute extends MirrorTarget {
  client: RegistryClient;
}

/**
 * What a run has learnt about its mirrors: the ones not to ask again (unreachable, failing,
 * serving wrong content, refusing us whatever we ask), the repositories a mirror refused, and the
 * failures already logged. Shared by every client of the run, so a dead mirror costs one failed
 * request, not one per blob, and a refused repository one refusal, not one per tag of it.
 */
export class MirrorHealth {
  private readonly down = new Map<string, string>();
  /** Repositories refused, by mirror and the repository's name at the mirror (refusedKey). */
  private readonly refused = new Set<string>();
  private readonly logged = new Set<string>();
  isDown(name: string): boolean {
    return this.down.has(name);
  }
  markDown(name: string, why: string): void {
    if (!this.down.has(name)) this.down.set(name, why);
  }
  /** True when mirror `name` refused repository `repo` (its name at the mirror) earlier in the run. */
  refuses(name: string, repo: string): boolean {
    return this.refused.has(refusedKey(name, repo));
  }
  /** Records that mirror `name` refused repository `repo`; true the first time (the caller logs then). */
  markRefused(name: string, repo: string): boolean {
    const key = refusedKey(name, repo);
    if (this.refused.has(key)) return false;
    this.refused.add(key);
    return true;
  }
  /** Neither down nor refusing the repository of `route`. */
  usable(route: { name: string; repo: string }): boolean {
    return !this.isDown(route.name) && !this.refuses(route.name, route.repo);
  }
  /** True the first time for `name`: the caller logs then. */
  firstFailure(name: string): boolean {
    if (this.logged.has(name)) return false;
    this.logged.add(name);
    return true;
  }
}

function refusedKey(name: string, repo: string): string {
  return `${name}\n${repo}`;
}

/**
 * Error codes after which a mirror is not asked again in this run: it cannot be reached, fails,
 * serves wrong content, or refuses the credentials for the whole registry (which do not change
 * during a run). A refusal that concerns one repository (refusesRepository) is kept for that
 * repository only; a 404 is a cache miss, and the next read asks again.
 */
const MIRROR_BROKEN: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_NETWORK', 'E_TLS', 'E_REGISTRY', 'E_PROTOCOL', 'E_TOO_MANY_REQUESTS', 'E_DIGEST_MISMATCH', 'E_AUTH']);

/**
 * A mirror's refusal of the repository asked for rather than of everything: a 403 (E_DENIED: a
 * cache that may proxy some repositories and not others, Harbor's proxy-cache project or
 * Artifactory's permissions), and the E_AUTH refusals that may concern the scopes asked for only
 * (auth/refusals.ts refusalReach: a token service's 403, as GHCR answers for one package the
 * login may not read, dragonflydb/dragonfly#4997; a token short of `pull` on that repository).
 * Such a refusal does not change during a run, so the mirror is not asked again for that
 * repository (every tag and blob of a sync's repository would be asked, and refused, again), and
 * it says nothing of the next repository, which still reads through the mirror. A refusal of the
 * credentials themselves (a token service's 401, a Basic 401, a login the mirror needs and none
 * is stored) is the same for every repository: the mirror is given up for the run (MIRROR_BROKEN).
 */
function refusesRepository(err: RegpushError): boolean {
  return err.code === 'E_DENIED' || (err.code === 'E_AUTH' && refusalReach(err) === 'repository');
}
/** Error codes that stop the read instead of falling back: the operation was cancelled, or a bug. */
const NO_FALLBACK: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_ABORTED', 'E_INTERNAL', 'E_USAGE']);

/** A source registry read through its mirrors first. */
/** "mirrors A, B had no manifest 1 in ns/app (404)": the mirrors that missed, grouped by the repository asked at each. */
function missedNote(missed: readonly { name: string; repo: string }[], what: string): string {
  const byRepo = new Map<string, string[]>();
  for (const { name, repo } of missed) byRepo.set(repo, [...(byRepo.get(repo) ?? []), name]);
  return [...byRepo].map(([repo, names]) => `${names.length === 1 ? 'mirror' : 'mirrors'} ${names.join(', ')} had no ${what} in ${repo} (404)`).join('; ');
}

export class MirroredClient implements RegistryClient {
  readonly registry: string;
  readonly logger: Logger;
  /** Tags whose resolution through a mirror was already said (a HEAD then a GET say it once). */
  private readonly told = new Set<string>();

  constructor(
    private readonly upstream: RegistryClient,
    /** The mirrors of a repository of this registry, in order (empty: read the upstream). */
    private readonly routes: (repo: string) => MirrorRoute[],
    private readonly health: MirrorHealth,
    /** The repositories this client reads (its scopes), whose first reads warm() prepares for. */
    private readonly repos: readonly string[] = [],
  ) {
    this.registry = upstream.registry;
    this.logger = upstream.logger;
  }

  /** Where a read goes after `routes[i]` fails: "trying mirror …" or "reading from upstream …" (`repo`: "reading REPO from upstream …"). */
  private nextAfter(routes: MirrorRoute[], i: number, repo?: string): string {
    const next = routes.slice(i + 1).find((n) => this.health.usable(n));
    if (next) return `trying mirror ${next.name}`;
    if (this.upstream instanceof BlockedClient) return `no other mirror (${this.registry} itself is blocked)`;
    return `reading ${repo ? `${repo} ` : ''}from upstream ${this.registry}`;
  }

  /**
   * Runs `read` at each usable mirror, then at the upstream. `found` tells an answer from "not
   * here" (a HEAD's undefined). The upstream's answer or error is the result.
   */
  private async read<T>(repo: string, what: string, read: (c: RegistryClient, repo: string) => Promise<T>, found: (v: T) => boolean = () => true): Promise<{ value: T; mirror?: MirrorRoute }> {
    const routes = this.routes(repo);
    // Mirrors that answered 404: named in the upstream's failure to connect, which alone would
    // hide that the mirrors were asked and why the registry itself was tried. Each with the
    // repository asked there: a prefix mapping makes it another than the one the user named.
    const missed: { name: string; repo: string }[] = [];
    for (const [i, m] of routes.entries()) {
      if (!this.health.usable(m)) continue;
      const then = this.nextAfter(routes, i);
      let why: string;
      try {
        const value = await read(m.client, m.repo);
        if (found(value)) return { value, mirror: m };
        why = 'not found';
      } catch (err) {
        if (!(err instanceof RegpushError) || NO_FALLBACK.has(err.code)) throw err;
        why = `${err.code}: ${err.message}`;
        if (err.code === 'E_DIGEST_MISMATCH') {
          // Wrong content for a digest is not a cache miss: the mirror is not trusted again this run.
          this.health.markDown(m.name, why);
          this.logger.warn(`mirror ${m.name} served content that does not match its digest (${err.message}); not using it again, ${then}`);
          continue;
        }
        if (refusesRepository(err)) {
          // Kept for this repository, said once for it: its other tags and blobs go elsewhere at once.
          const elsewhere = `${this.nextAfter(routes, i, repo)}; not asking ${m.name} for ${m.repo} again in this run, the mirror is still used for other repositories`;
          if (this.health.markRefused(m.name, m.repo)) this.logger.warn(`mirror ${m.name} refused ${m.repo} (${why}); ${elsewhere}`);
          else this.logger.debug(`mirror ${m.name}: ${what} refused (${why}); ${then}`);
          continue;
        }
        if (MIRROR_BROKEN.has(err.code)) this.health.markDown(m.name, why);
      }
      // A cache miss is ordinary for a pull-through cache: only logged in debug. Failures once, as a warning.
      if (why === 'not found' || /^E_NOT_FOUND/.test(why)) {
        missed.push({ name: m.name, repo: m.repo });
        this.logger.debug(`mirror ${m.name}: ${what} not found; ${then}`);
      }
      else if (this.health.firstFailure(m.name)) this.logger.warn(`mirror ${m.name} failed (${why}); ${then}`);
      else this.logger.debug(`mirror ${m.name}: ${what} failed (${why}); ${then}`);
    }
    try {
      return { value: await read(this.upstream, repo) };
    } catch (err) {
      if (missed.length && err instanceof RegpushError && (err.code === 'E_NETWORK' || err.code === 'E_TLS')) {
        // A copy, never the error itself: a probed registry's scheme probe is one promise shared by
        // every read (registry-http.ts base()), so concurrent reads of other tags reject with this
        // same object, and each would append its own note to the others' lines.
        const note = `; ${missedNote(missed, what)}`;
        throw errorForCode(err.code, err.message + note, { details: { ...err.details }, cause: err.cause });
      }
      throw err;
    }
  }

  distrustMirror(mirror: string, why: string): boolean {
    if (this.health.isDown(mirror)) return false;
    this.health.markDown(mirror, why);
    this.logger.warn(`mirror ${mirror} served bytes that do not match their digest (${why}); not using it again, reading again from the next mirror or ${this.registry}`);
    return true;
  }

  /** Says once per tag, mirror and digest that a mirror resolved the tag. */
  private tell(repo: string, tag: string, mirror: string, digest: string): void {
    const line = `${this.registry}/${repo}:${tag} resolved through mirror ${mirror} to ${digest}`;
    if (this.told.has(line)) return;
    this.told.add(line);
    this.logger.info(line);
  }

  ready(): Promise<void> {
    return this.upstream.ready();
  }

  /**
   * Opens up to `n` connections ahead (RegistryClient.warm) where this client's next reads go
   * first: per repository it reads, the first mirror still usable for it (not down, not refusing
   * it), or the registry itself where none is (every mirror given up, or none for that
   * repository). Without it a source read through a mirror met the first image's blob burst with
   * no spare connection, a handshake (a round trip or two at 20-150 ms) on the critical path; the
   * registry itself is not warmed while a mirror answers, as it is read only when that one fails.
   * `repo`: warm for that repository's reads instead (the run keeps one source client per
   * registry, made for its first image): where the registry's namespaces have mirrors of their
   * own, the next image's reads may go to another mirror than the first image's did.
   */
  warm(n: number, repo?: string): void {
    for (const first of repo === undefined ? this.firstClients() : [this.firstReader(repo).client]) first.warm?.(n);
  }

  /** The clients this client's next reads go to first, once each: per repository it reads, its firstReader. */
  private firstClients(): Set<RegistryClient> {
    return new Set([...new Set(this.repos)].map((repo) => this.firstReader(repo).client));
  }

  /**
   * Fetches ahead the token where this client's next reads go first (RegistryClient.prefetchAuth):
   * per repository it reads, the first mirror still usable for it, or the registry itself where
   * none is (as warm). Without it a sync's next image read through a mirror asked for its token
   * only once it had started, a round trip to the token service on its path, where a source read
   * directly had it in hand. The registry itself is not asked while a mirror answers: its token
   * is needed only when that one fails. A mirror no image has read through yet has no token
   * service known to fetch from (a per-namespace mirror the run's first images do not read, the
   * next mirror once the one before is given up): it is asked its challenge first, with one
   * `GET /v2/` (askChallenge: AuthMiddleware.prefetch, which sends nothing where the challenge is
   * known, presumed, or about to be named by a request's own answer), while the image before
   * still runs: the image then starts with its token, not with a 401 and a token fetch on its
   * path. The registry itself is never asked so (its own reads meet its challenge as ever). Never
   * fails (each client's prefetch never does).
   */
  prefetchAuth(): void {
    for (const first of this.firstClients()) first.prefetchAuth?.({ askChallenge: first !== this.upstream });
  }

  /**
   * The registry's own answer, since a GET a mirror cannot serve falls through to it; and true
   * where a mirror the GET would go to first counts pulls itself (it has sent rate-limit headers
   * in this run): its limit is spent by the read as well.
   */
  countsPulls(repo: string): boolean {
    if (this.upstream.countsPulls?.(repo) ?? true) return true;
    return this.routes(repo).some((m) => this.health.usable(m) && (m.client.countsPulls?.(m.repo) ?? true));
  }

  /**
   * Known where countsPulls is true, or where the registry and every mirror a GET could go to (not
   * down, not refusing the repository) have shown it. A mirror that answers everything leaves the
   * registry unheard: not known, so a sync HEADs first there for the whole run (a GET the mirror
   * cannot serve falls through to the registry, whose count is not known).
   */
  pullsKnown(repo: string): boolean {
    if (this.countsPulls(repo)) return true;
    if (!(this.upstream.pullsKnown?.(repo) ?? false)) return false;
    return this.routes(repo).every((m) => !this.health.usable(m) || (m.client.pullsKnown?.(m.repo) ?? false));
  }

  /**
   * Where a manifest read of `repo` goes first: the first mirror that may serve it, else the
   * registry itself. A mirror's reads spend the mirror's pulls, if it counts any (another
   * registry, with readers of its own), never the registry's: metered as the registry's, a sync's
   * pull-limit gate held the mirror's images by the registry's count, and a mirror that counts
   * nothing by a count it never spends.
   */
  private firstReader(repo: string): { client: RegistryClient; repo: string; mirror?: string } {
    const m = this.routes(repo).find((r) => this.health.usable(r));
    return m ? { client: m.client, repo: m.repo, mirror: m.name } : { client: this.upstream, repo };
  }

  /**
   * Whose pulls a manifest read of `repo` spends: the first mirror's reader where one may serve it
   * (firstReader), else the registry's own; with `answeredBy` (RegistryClient.pullsOwner), the
   * reader of the mirror or registry that answered. A mirror's is named with the mirror
   * (mirrorOwner): a sync keeps a used-up limit per source registry and owner, and the registry's
   * own 429, met by an image the mirror lacks, must stop the registry's reader, not the mirror's
   * (whose next images the mirror may serve); anonymous at the mirror is not anonymous there.
   */
  async pullsOwner(repo: string, answeredBy?: string): Promise<string> {
    const answered = this.routes(repo).find((m) => m.client.registry === answeredBy);
    const reader =
      answeredBy === this.upstream.registry
        ? { client: this.upstream, repo }
        : answered
          ? { client: answered.client, repo: answered.repo, mirror: answered.name }
          : this.firstReader(repo);
    const owner = (await reader.client.pullsOwner?.(reader.repo)) ?? '';
    return reader.mirror === undefined ? owner : mirrorOwner(reader.mirror, owner);
  }

  /** Who reads `repo` first (as pullsOwner). */
  pullsReader(repo: string): Promise<PullsReader | undefined> {
    const first = this.firstReader(repo);
    return first.client.pullsReader?.(first.repo) ?? Promise.resolve(undefined);
  }

  /** Reachability of the registry itself (what login and early checks mean by it). */
  ping(): Promise<void> {
    return this.upstream.ping();
  }

  async headManifest(repo: string, ref: string): Promise<ManifestHead | undefined> {
    const r = await this.read(repo, `manifest ${ref}`, (c, rp) => c.headManifest(rp, ref), (v) => v !== undefined);
    if (!r.mirror || !r.value) return r.value;
    if (!ref.includes(':')) this.tell(repo, ref, r.mirror.name, r.value.digest ?? '(no digest stated)');
    return { ...r.value, mirror: r.mirror.name };
  }

  async getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    const r = await this.read(repo, `manifest ${ref}`, async (c, rp) => {
      const m = await c.getManifest(rp, ref);
      // A tag's answer is taken on a mirror's word, but it must at least be a JSON document: a
      // proxy's or portal's HTML page answered 200 would otherwise pass for the manifest and fail
      // later, where nothing falls back to the upstream.
      if (c !== this.upstream && !isJsonObject(m.bytes)) throw new ProtocolError(`mirror answered manifest ${ref} with something that is not a manifest (${m.mediaType || 'no content type'})`);
      return m;
    });
    if (!r.mirror) return r.value;
    // A digest is checked by the client; a tag is the mirror's word, so say whose word it is.
    if (!ref.includes(':')) this.tell(repo, ref, r.mirror.name, r.value.digest);
    else this.logger.debug(`${this.registry}/${repo}@${ref} read from mirror ${r.mirror.name}`);
    return { ...r.value, mirror: r.mirror.name };
  }

  async headBlob(repo: string, digest: string): Promise<number | undefined> {
    return (await this.read(repo, `blob ${digest}`, (c, rp) => c.headBlob(rp, digest), (v) => v !== undefined)).value;
  }

  /**
   * A mirror's body that fails once it has started (it stalled past the mirror's deadline, or its
   * connection dropped) gives the mirror up for the run, as a failed answer does: the transfer's
   * resume (resumable-read.ts) then reads the rest from the next mirror or the upstream, at once
   * (readsElsewhere), not from the same mirror again.
   */
  async getBlob(repo: string, digest: string, start?: number): Promise<{ body: Readable; size?: number; partial: boolean; mirror?: string }> {
    const r = await this.read(repo, `blob ${digest}`, (c, rp) => c.getBlob(rp, digest, start));
    if (!r.mirror) return r.value;
    const m = r.mirror;
    r.value.body.once('error', (err) => {
      if (err instanceof RegpushError && NO_FALLBACK.has(err.code)) return; // cancelled: nothing wrong with the mirror
      if (this.health.isDown(m.name)) return;
      const why = err instanceof RegpushError ? `${err.code}: ${err.message}` : err.message;
      const routes = this.routes(repo);
      this.health.markDown(m.name, why);
      const then = this.nextAfter(routes, routes.findIndex((x) => x.name === m.name));
      if (this.health.firstFailure(m.name)) this.logger.warn(`mirror ${m.name} failed (${why}); ${then}`);
      else this.logger.debug(`mirror ${m.name}: blob ${digest} failed (${why}); ${then}`);
    });
    return { ...r.value, mirror: m.name };
  }

  readsElsewhere(mirror: string): boolean {
    return this.health.isDown(mirror);
  }

  async getBlobBytes(repo: string, digest: string, cap: number): Promise<Buffer> {
    return (await this.read(repo, `blob ${digest}`, (c, rp) => c.getBlobBytes(rp, digest, cap))).value;
  }

  /** The upstream's list, as for tags (see the module comment): a cache lists the referrers it has cached, often none. */
  referrers(repo: string, digest: string): Promise<{ manifests: { digest: string; mediaType: string; artifactType?: string }[] } | undefined> {
    return this.upstream.referrers(repo, digest);
  }

  /** The upstream's list (see the module comment). */
  listTags(repo: string, pageSize?: number): Promise<string[]> {
    return this.upstream.listTags(repo, pageSize);
  }

  /** The upstream's catalog: a cache holds only what was pulled through it. */
  listRepositories(pageSize?: number): Promise<string[]> {
    return this.upstream.listRepositories(pageSize);
  }

  // Writes: the upstream only.
  putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    return this.upstream.putManifest(repo, ref, bytes, mediaType);
  }
  deleteManifest(repo: string, digest: string): Promise<void> {
    return this.upstream.deleteManifest(repo, digest);
  }
  deleteTag(repo: string, tag: string): Promise<void> {
    return this.upstream.deleteTag(repo, tag);
  }
  mountBlob(repo: string, digest: string, fromRepo: string): Promise<MountResult> {
    return this.upstream.mountBlob(repo, digest, fromRepo);
  }
  startUpload(repo: string): Promise<UploadSession> {
    return this.upstream.startUpload(repo);
  }
  putUpload(session: string, digest: string, size: number, body: RequestBody): Promise<boolean> {
    return this.upstream.putUpload(session, digest, size, body);
  }
  patchUpload(session: string, body: RequestBody, range?: { start: number; end: number }): Promise<string> {
    return this.upstream.patchUpload(session, body, range);
  }
  completeUpload(session: string, digest: string): Promise<boolean> {
    return this.upstream.completeUpload(session, digest);
  }
  cancelUpload(session: string): Promise<boolean> {
    return this.upstream.cancelUpload(session);
  }
}

/**
 * The registry itself where configuration blocks it (registries.conf's `blocked = true`) and only
 * its mirrors may be read: every request is refused with the same error, and nothing is sent.
 */
export class BlockedClient implements RegistryClient {
  constructor(
    readonly registry: string,
    readonly logger: Logger,
    private readonly refusal: RegpushError,
  ) {}
  private refuse(): Promise<never> {
    return Promise.reject(this.refusal);
  }
  /** Nothing to wait for: no scheme is probed. */
  ready(): Promise<void> {
    return Promise.resolve();
  }
  ping = (): Promise<never> => this.refuse();
  headManifest = (): Promise<never> => this.refuse();
  getManifest = (): Promise<never> => this.refuse();
  putManifest = (): Promise<never> => this.refuse();
  deleteManifest = (): Promise<never> => this.refuse();
  deleteTag = (): Promise<never> => this.refuse();
  headBlob = (): Promise<never> => this.refuse();
  getBlob = (): Promise<never> => this.refuse();
  getBlobBytes = (): Promise<never> => this.refuse();
  mountBlob = (): Promise<never> => this.refuse();
  startUpload = (): Promise<never> => this.refuse();
  putUpload = (): Promise<never> => this.refuse();
  patchUpload = (): Promise<never> => this.refuse();
  completeUpload = (): Promise<never> => this.refuse();
  cancelUpload = (): Promise<never> => this.refuse();
  listTags = (): Promise<never> => this.refuse();
  listRepositories = (): Promise<never> => this.refuse();
  referrers = (): Promise<never> => this.refuse();
}

/** True when `bytes` hold a JSON object (what every manifest and index is). */
function isJsonObject(bytes: Buffer): boolean {
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
