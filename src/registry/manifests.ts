/**
 * The manifest calls of the Distribution API: HEAD, GET, PUT and DELETE of
 * `/v2/<repo>/manifests/<ref>`. A manifest is read whole (capped) and its digest checked, and each
 * answer also tells the run what it learns on the way: whether a tag exists (tags-seen.ts) and
 * whether the registry counts pulls, which are manifest GETs (the transport's stats).
 */
import { untilAborted } from '../abort.js';
import { deletesEnabledBy } from './quirks.js';
import { AbortedError, DigestMismatchError, NotFoundError, ProtocolError, RegpushError, TooManyRequestsError, UnsupportedError } from '../errors.js';
import { drain, pullLimitSpentBy, readBody, MANIFEST_CAP } from '../http/response.js';
import { parseRateLimitHeader } from '../http/stats.js';
import type { HttpResponse } from '../http/types.js';
import { sha256Digest, isValidDigest, digestMismatch } from '../image/digest.js';
import { MANIFEST_ACCEPT, isSchema1MediaType } from '../image/mediatypes.js';
import type { FetchedManifest, ManifestHead } from './registry-client.js';
import { unsentWhenCut, type RegistryHttp } from './registry-http.js';
import { PROBE_DRAIN_MS } from './scheme-probe.js';
import type { TagsSeen } from './tags-seen.js';

/**
 * Answers to a manifest HEAD from a registry or front that does not serve HEAD there, though the
 * GET works (an API gateway allowing GET only, a registry without the route): the GET is asked
 * instead, as crane's Digest does ("HEAD request failed, falling back on GET"). 401, 403 and 404
 * keep their meaning: the GET would be refused, or find nothing, the same way.
 */
const HEAD_REFUSED: ReadonlySet<number> = new Set([400, 405, 501]);
/**
 * The refusals that say the method itself is not served (405 Method Not Allowed, 501 Not
 * Implemented): the rest of the run GETs at once. A 400 may be about the one request (an odd
 * reference), so it falls back for that lookup only: taken for the whole run, every later HEAD
 * would be a GET, which Docker Hub counts as a pull (the tag checks, the rate gate's polling).
 */
const HEAD_NOT_SERVED: ReadonlySet<number> = new Set([405, 501]);

export class Manifests {
  /** This registry does not serve manifest HEADs (HEAD_NOT_SERVED): later lookups GET at once. */
  private headRefused = false;

  constructor(
    private readonly http: RegistryHttp,
    private readonly tags: TagsSeen,
  ) {}

  /** `host/repo:tag` or `host/repo@sha256:…` (a tag never contains a colon, a digest always does). */
  private name(repo: string, ref: string): string {
    return `${this.http.registry}/${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
  }

  /**
   * Tells the run's stats that a manifest request was answered: a 2xx, for pullsKnown; whose count
   * the answer was, where the registry names it (Docker Hub's `docker-ratelimit-source`); and,
   * where this reader's pull limit was noted used up and the answer's count has pulls left again
   * (the window rolled over; a HEAD is free and carries the count), that its GETs may go again.
   */
  private async answered(res: HttpResponse): Promise<void> {
    const { stats } = this.http.transport;
    const host = this.http.statsHost();
    if (res.status >= 200 && res.status < 300) stats.manifestAnswered(host, res.headers);
    const source = res.headers['docker-ratelimit-source'];
    if (source) stats.rateLimitSource(host, await this.http.whose(), source);
    if (stats.anyPullsSpent(host) && (parseRateLimitHeader(res.headers['ratelimit-remaining'])?.value ?? 0) > 0) stats.restorePulls(host, await this.pullsOwner());
  }

  /** Whose pulls this client's manifest GETs spend (TransportStats.pullsOwner): its credential's, or the account or address the registry named for it. */
  async pullsOwner(): Promise<string> {
    return this.http.transport.stats.pullsOwner(await this.http.settledStatsHost(), await this.http.whose());
  }

  /**
   * HEAD a manifest; undefined when it does not exist. Where the registry refuses the HEAD
   * (HEAD_REFUSED), what its GET says, the digest computed from the bytes and the manifest itself
   * in `got`; once refused with 405 or 501, this client's later lookups go to the GET at once. Every caller (copy's
   * and push's tag checks, digest, tag, delete) shares the fallback here.
   */
  async head(repo: string, ref: string): Promise<ManifestHead | undefined> {
    if (this.headRefused) return this.headByGet(repo, ref);
    const http = this.http;
    const res = await http.request({ method: 'HEAD', url: await http.refUrl('HEAD', repo, 'manifests', ref), headers: { accept: MANIFEST_ACCEPT } });
    // Ended before the answer is used: its connection is back in the keep-alive pool when the
    // request that follows (copy's manifest GET right after this HEAD) goes out, instead of that
    // one opening a new connection (a handshake more where the round trip is long).
    await drain(res, PROBE_DRAIN_MS);
    await this.answered(res);
    if (res.status === 404) {
      this.tags.saw(repo, ref, false);
      return undefined;
    }
    if (HEAD_REFUSED.has(res.status)) {
      if (HEAD_NOT_SERVED.has(res.status)) this.headRefused = true;
      http.logger.debug(`${http.registry} answered ${res.status} to a manifest HEAD; falling back on GET${this.headRefused ? ' for the rest of the run' : ' for this one'}`);
      return this.headByGet(repo, ref);
    }
    if (res.status !== 200) return http.fail(res, `HEAD manifest ${this.name(repo, ref)}`);
    const size = Number(res.headers['content-length']);
    // The digest stated is used as it is: compared with the targets', reported, and put into the
    // URLs of later requests (the manifest's GET by digest). One that is no digest is refused here;
    // an empty one is none (the caller GETs the manifest to compute it).
    const stated = res.headers['docker-content-digest'] || undefined;
    if (stated !== undefined && !isValidDigest(stated)) {
      throw new ProtocolError(
        `HEAD manifest ${this.name(repo, ref)}: the registry's Docker-Content-Digest ${JSON.stringify(stated.slice(0, 80))} ` +
          'is not a digest (sha256:<64 hex> or sha512:<128 hex>)',
        {
          details: { registry: http.registry },
        },
      );
    }
    this.tags.saw(repo, ref, true);
    return {
      digest: stated,
      mediaType: res.headers['content-type']?.split(';')[0]?.trim(),
      size: Number.isFinite(size) ? size : undefined,
    };
  }

  /** head() by a GET, for a registry that refuses the HEAD. */
  private async headByGet(repo: string, ref: string): Promise<ManifestHead | undefined> {
    try {
      const got = await this.get(repo, ref);
      return { digest: got.digest, mediaType: got.mediaType || undefined, size: got.bytes.length, got };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * `err`, a manifest GET's failure; where it is a 429 saying the pull limit is used up (the
   * transport raises it itself: it is not retried), this reader's GETs are marked so first
   * (spendPulls), under the owner the 429 names where it names one.
   */
  private async refused(err: unknown): Promise<unknown> {
    if (err instanceof RegpushError && err.details.pullLimitSpent === true) {
      const stats = this.http.transport.stats;
      const source = err.details.rateLimitSource;
      const host = this.http.statsHost();
      if (typeof source === 'string') stats.rateLimitSource(host, await this.http.whose(), source);
      stats.spendPulls(host, await this.pullsOwner(), String(err.details.pullLimit));
    }
    return err;
  }

  /**
   * Acts on a manifest GET's answer whose headers say this reader's pulls are used up
   * (pullLimitSpentBy), before its body is read: the body-wait middleware reads it, and the
   * connection it came on is taken by the next GET queued for it once it has been read. That GET,
   * still unsent now, is cut (spendPending: whenSpent) rather than sent to be refused in turn. The
   * mark itself waits for the answer as told once its body is read (`awaitAnswer`; undefined where the
   * request ended first: the headers' word stands), which may name a short wait that makes it an
   * ordinary 429, retried (quotaSpent); and for whose pulls they are, a credential lookup asked only
   * now: a registry that counts no pulls never costs one. `cut`: this GET's own watcher (whenSpent),
   * not called for its own answer: a retry of it is the retry level's to decide.
   */
  private spentAtHeaders(res: HttpResponse, url: string, awaitAnswer: () => Promise<HttpResponse | undefined>, cut: () => void): void {
    const stats = this.http.transport.stats;
    const countBefore = res.countBefore ?? stats.countSent(res.url || url);
    if (pullLimitSpentBy({ status: res.status, headers: res.headers, countBefore }) === undefined) return;
    const host = this.http.statsHost();
    const source = res.headers['docker-ratelimit-source'];
    const body = awaitAnswer();
    const mark = async (): Promise<void> => {
      const read = await body;
      const limit = pullLimitSpentBy({ status: res.status, headers: res.headers, countBefore, waitInBody: read?.waitInBody });
      if (limit === undefined) return;
      const id = await this.http.whose();
      stats.rateLimitSource(host, id, source);
      stats.spendPulls(host, stats.pullsOwner(host, id), limit);
    };
    stats.spendPending(host, mark(), cut);
  }

  /** GET a manifest's exact bytes; the digest is verified when `ref` is a digest or the registry states one. */
  async get(repo: string, ref: string): Promise<FetchedManifest> {
    const http = this.http;
    const what = `GET manifest ${this.name(repo, ref)}`;
    // A pull limit used up (Docker Hub's 429 with ratelimit-remaining 0) comes back only over its
    // window: the GETs that operations already under way would still send (a sync's images, the
    // tags of copy --all-tags) are refused here, unsent, as the registry would refuse them (until a
    // sync's pull-limit gate, waiting under --max-wait, polls a count with pulls left: restorePulls).
    // Docker Hub counts per account, or per address for anonymous reads: only this reader's mark
    // refuses it (another login's, at the same host, is another count). Whose pulls a GET spends (a
    // credential lookup) is asked only once a mark is set or being set: an anonymous read of a
    // registry that counts no pulls looks up no credential, as before the marks were per reader.
    const stats = http.transport.stats;
    const url = await http.refUrl('GET', repo, 'manifests', ref);
    let res: HttpResponse | undefined;
    while (!res) {
      // After refUrl: the scheme is known (statsHost). A 429 another GET here met may still be
      // deciding whether the limit is used up (spendPending): waited for, not raced; a cancelled
      // operation stops waiting at once (the decision may wait for that 429's body).
      for (let deciding = stats.spendsPending(http.statsHost()); deciding; deciding = stats.spendsPending(http.statsHost())) {
        await untilAborted(http.signal, deciding);
      }
      const spent = stats.anyPullsSpent(http.statsHost()) ? stats.pullsSpent(http.statsHost(), await this.pullsOwner()) : undefined;
      if (spent !== undefined) {
        throw new TooManyRequestsError(
          `${what}: not sent: the pull limit of ${http.registry} is used up (${spent}; a manifest GET of this run was refused so): ` +
            'log in (Docker Hub allows authenticated users more pulls), or run again later',
          {
            details: { registry: http.registry, pullLimitSpent: true, pullLimit: spent },
          },
        );
      }
      // Let go by the check above, the GET may still wait for its token, a socket or its
      // connection: a 429 met meanwhile by another GET here (another image of a sync, another tag)
      // cuts it before anything of it goes out, and it is checked again, not sent after the
      // refusal to be refused in turn (whose pulls are used up may be known only now).
      const unsent = new AbortController();
      const cut = (): void => unsent.abort();
      const unwatch = stats.whenSpent(http.statsHost(), cut);
      // The answer whose headers spentAtHeaders was given, told once its body is read (onAnswer);
      // per attempt, as the retries send the GET again; waited for only where the headers say a
      // limit may be used up (an ordinary answer makes no promise).
      let tell: ((answer: HttpResponse | undefined) => void) | undefined;
      const told = (answer: HttpResponse | undefined): void => {
        tell?.(answer);
        tell = undefined;
      };
      try {
        res = await http.request({
          method: 'GET',
          url,
          headers: { accept: MANIFEST_ACCEPT },
          unsentSignal: unsent.signal,
          onHeaders: (r) => {
            told(undefined);
            this.spentAtHeaders(r, url, () => new Promise((resolve) => (tell = resolve)), cut);
          },
          onAnswer: told,
        });
      } catch (err) {
        if (err instanceof AbortedError && unsent.signal.aborted && !http.signal?.aborted) continue;
        throw await this.refused(err);
      } finally {
        told(undefined);
        unwatch();
      }
    }
    try {
      await this.answered(res);
      if (res.status === 404) this.tags.saw(repo, ref, false);
      if (res.status !== 200) await http.fail(res, what);
    } catch (err) {
      throw await this.refused(err);
    }
    const bytes = await readBody(res, MANIFEST_CAP, `manifest ${this.name(repo, ref)}`);
    const contentType = res.headers['content-type']?.split(';')[0]?.trim() ?? '';
    // Signed schema 1 is hashed without its signatures, so check the type before the digest.
    if (isSchema1MediaType(contentType)) {
      throw new UnsupportedError(`${this.name(repo, ref)} is a Docker schema 1 manifest, which regpush does not support; re-push it as schema 2 or OCI (e.g. skopeo copy --format v2s2)`, {
        details: { registry: http.registry },
      });
    }
    // Each digest is checked with its own algorithm (sha256 or sha512); the digest returned is the
    // sha256 of the bytes, what regpush writes and compares everywhere else.
    const digest = sha256Digest(bytes);
    const wrong = isValidDigest(ref) ? digestMismatch(bytes, ref) : undefined;
    if (wrong) {
      throw new DigestMismatchError(`manifest ${http.registry}/${repo}@${ref} has digest ${wrong}`, { details: { registry: http.registry } });
    }
    const stated = res.headers['docker-content-digest'];
    const wrongStated = stated && isValidDigest(stated) ? digestMismatch(bytes, stated) : undefined;
    if (wrongStated) {
      throw new DigestMismatchError(`manifest ${this.name(repo, ref)}: registry says ${stated} but the bytes hash to ${wrongStated}`, {
        details: { registry: http.registry },
      });
    }
    const mediaType = res.headers['content-type']?.split(';')[0]?.trim() ?? '';
    this.tags.saw(repo, ref, true);
    return { bytes, mediaType, digest };
  }

  /**
   * PUT a manifest under a tag or digest; returns the digest, checked against the registry's. Cut
   * off before any attempt of it had a connected socket (HttpRequest.onSent), its AbortedError
   * says so (`details.unsent`): an interrupted copy or push then knows the tag did not move.
   */
  async put(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const http = this.http;
    const digest = sha256Digest(bytes);
    const res = await unsentWhenCut(async (onSent) =>
      http.request({
        method: 'PUT',
        url: await http.refUrl('PUT', repo, 'manifests', ref),
        headers: { 'content-type': mediaType },
        body: bytes,
        onSent,
      }),
    );
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return http.failWrite(res, `PUT manifest ${this.name(repo, ref)}`, repo, 'the manifest PUT', false);
    await drain(res);
    const stated = res.headers['docker-content-digest'];
    const expected = stated && isValidDigest(stated) ? digestMismatch(bytes, stated) : undefined;
    if (expected) {
      throw new DigestMismatchError(`PUT manifest ${this.name(repo, ref)}: registry stored ${stated}, expected ${expected}`, {
        details: { registry: http.registry },
      });
    }
    this.tags.saw(repo, ref, true);
    return digest;
  }

  /**
   * DELETE a manifest by digest (the Distribution API deletes by digest only; every tag pointing at
   * it goes with it). A registry that does not allow deletes answers 405 with UNSUPPORTED
   * (distribution with `storage.delete.enabled: false`): that is E_UNSUPPORTED, not a registry failure.
   */
  async delete(repo: string, digest: string): Promise<void> {
    const http = this.http;
    const what = `DELETE manifest ${http.registry}/${repo}@${digest}`;
    const res = await http.request({ method: 'DELETE', url: await http.refUrl('DELETE', repo, 'manifests', digest) });
    if (res.status === 202 || res.status === 200 || res.status === 204) return drain(res);
    const err = await http.error(res, what);
    if (res.status === 405 || err.details.registryCodes?.includes('UNSUPPORTED')) {
      throw new UnsupportedError(`${err.message} (this registry does not allow deleting manifests; ${deletesEnabledBy(http.registry)})`, {
        details: err.details,
      });
    }
    throw err;
  }

  /**
   * DELETE a tag (`DELETE /v2/<repo>/manifests/<tag>`): the manifest stays, with its other tags.
   * The OCI distribution spec lets a registry delete tags, or delete by digest only and answer a
   * tag's DELETE 400 or 405: CNCF distribution 2.8 answers 400 DIGEST_INVALID (it reads the tag as
   * a digest: google/go-containerregistry#1578, and 2.8.2 in the e2e tests), its development line
   * 405 UNSUPPORTED from distribution/distribution#3174 on, as Harbor was made to
   * (goharbor/harbor#11971); distribution 3 deletes the tag (distribution/distribution#3427), as
   * GCR (opencontainers/distribution-spec#102) and GitLab's registry (werf/werf#7866) do. Those refusals are E_UNSUPPORTED, the registry's own answer in
   * the message and details; what they mean for the caller is said by untagImage().
   */
  async deleteTag(repo: string, tag: string): Promise<void> {
    const http = this.http;
    const res = await http.request({ method: 'DELETE', url: await http.refUrl('DELETE', repo, 'manifests', tag) });
    if (res.status === 202 || res.status === 200 || res.status === 204) return drain(res);
    const err = await http.error(res, `DELETE tag ${this.name(repo, tag)}`);
    if (res.status === 400 || res.status === 405 || err.details.registryCodes?.includes('UNSUPPORTED')) {
      throw new UnsupportedError(err.message, { details: err.details });
    }
    throw err;
  }
}
