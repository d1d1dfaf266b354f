/**
 * The manifests of one image written at one of its targets (TargetSet.commitManifests,
 * target-set.ts): an index's children by digest, then the top manifest under its tags, none of
 * them again where a tag already holds these bytes. A PUT that the registry refuses for a blob it
 * took on a 201's word, or for a blob's link another writer was rewriting, is sent once more after
 * the blobs it names are checked (after the link race's own answer, a few times more).
 */
import pLimit from 'p-limit';
import { RegpushError } from '../errors.js';
import { isBlobLinkRace } from '../http/response.js';
import { isForeignLayer, isImageConfigMediaType, isIndexMediaType, mediaFamily } from '../image/mediatypes.js';
import { artifactTypeOf, parseManifest } from '../image/manifest.js';
import type { OptionNames } from '../option-names.js';
import { formatReference, type ImageReference } from '../ref/reference.js';
import { MIN_PLAN_CONCURRENCY } from './concurrency.js';
import { statedKey, type RepoEndpoint, type TransferContext } from './types.js';

/** A manifest to write: by digest (an index's child, a referrer) or under tags. */
export interface ManifestToWrite {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

/** What commitManifests did at one target. */
export interface CommitResult {
  /** Digest of the top manifest (what the tags point at). */
  digest: string;
  /** Tags actually written. */
  written: string[];
  /** Tags that already held this manifest, so were not written again. */
  unchanged: string[];
}

/**
 * What the commit reads of a target: a TransferTarget's fields (target-set.ts, which imports this
 * module, so the type is named here by what is used of it).
 */
export interface CommitTarget {
  ref: ImageReference;
  ep: RepoEndpoint;
  tags: string[];
  tagsWritten?: string[];
  tagsUnchanged?: string[];
  digestWritten?: string;
  tagsCut?: string[];
  digestsCut?: string[];
}

/** The manifest commit at the targets `T` of one TargetSet. */
export class ManifestCommit<T extends CommitTarget> {
  constructor(
    /** The set's owner: --jobs, the run's context (the blobs it took on a 201's word: onWord), and its signal (putTag). */
    private readonly run: { readonly jobs: number; readonly ctx: TransferContext; readonly signal: AbortSignal },
    /** HEADs a blob at a target and marks it present; rejects when it is missing (TargetSet.headConfirm). */
    private readonly headConfirm: (t: T, digest: string) => Promise<void>,
  ) {}

  /**
   * Writes the manifests at `t`: `children` by digest first (an index's images), then `top` under
   * every tag in `tags` (default: the target's; by digest when there are none). A tag known to hold these very bytes
   * already (`held`) is not written again, nor are the children of an index it holds: the
   * registry checked them when that index was written. So an unchanged re-run writes nothing, and
   * a registry with immutable tags does not refuse a no-op.
   */
  async commitManifests(t: T, top: ManifestToWrite, children: readonly ManifestToWrite[] = [], held: ReadonlySet<string> = new Set(), tags: readonly string[] = t.tags): Promise<CommitResult> {
    const unchanged = tags.filter((tag) => held.has(tag));
    if (unchanged.length) {
      // What an interruption after this leaves there: these tags hold the image (interruptedAt).
      (t.tagsUnchanged ??= []).push(...unchanged);
      t.digestWritten ??= top.digest;
    }
    if (unchanged.length === 0 && children.length) {
      // Image manifests need only their blobs, all in place by now: they go out together (one
      // round trip, not one per platform). An index child names manifests listed before it, so
      // the indexes follow, one by one, in order.
      const puts = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
      await Promise.all(children.filter((c) => !isIndexMediaType(c.mediaType)).map((c) => puts(() => this.putManifest(t, c.digest, c))));
      for (const c of children.filter((c) => isIndexMediaType(c.mediaType))) await this.putManifest(t, c.digest, c);
    }
    const written: string[] = [];
    for (const tag of tags) {
      if (held.has(tag)) continue;
      await this.putTag(t, tag, top);
      written.push(tag);
    }
    // By digest (a referrer found through its subject): its PUT cut off is recorded as a tag's is.
    if (tags.length === 0) await this.putNotingCut(t, top.digest, top, 'digestsCut');
    return { digest: top.digest, written, unchanged };
  }

  /**
   * PUTs `top` under `tag` (putManifest: the registry's digest is checked), recording on `t` what
   * an interruption leaves there: the tag written, or its PUT cut off (tagsCut) once the run's
   * signal has fired. A PUT cut off after it was sent may have taken effect, so an interrupted
   * operation must not say that no tag was written at that target; one cut before any of it went
   * out (`details.unsent`: still queued for a socket, say) did not, and is not recorded as cut.
   */
  private async putTag(t: T, tag: string, top: ManifestToWrite): Promise<void> {
    await this.putNotingCut(t, tag, top, 'tagsCut');
    (t.tagsWritten ??= []).push(tag);
    t.digestWritten ??= top.digest;
  }

  /**
   * PUTs `top` under `ref` (a tag, or its digest), adding `ref` to `t`'s record `cut` (tagsCut,
   * digestsCut) where the run's signal cut the PUT off once sent (putTag says why).
   */
  private async putNotingCut(t: T, ref: string, top: ManifestToWrite, cut: 'tagsCut' | 'digestsCut'): Promise<void> {
    try {
      await this.putManifest(t, ref, top);
    } catch (err) {
      const unsent = err instanceof RegpushError && err.details.unsent === true;
      if (this.run.signal.aborted && !unsent) (t[cut] ??= []).push(ref);
      throw err;
    }
  }

  /**
   * PUTs a manifest. When the registry answers MANIFEST_BLOB_UNKNOWN (or DIGEST_INVALID, below)
   * and a blob the manifest names was taken on a 201's word in this run at this repository — by
   * this image, or by another of the run that this one then skipped as landed (copy --all-tags,
   * sync) — those blobs are HEADed (E_REGISTRY when one is missing) and the PUT is sent once
   * more: a registry whose 201 came before the blob was readable gets that time. DIGEST_INVALID
   * is distribution's answer when another writer (another shard of a `shard: tag` sync, another
   * job) wrote the same blob into the repository meanwhile and the manifest's check read the
   * blob's link file while it was being rewritten (empty: distribution/distribution#4489); the
   * link is whole again a moment later. That answer (DIGEST_INVALID with MANIFEST_BLOB_UNKNOWN:
   * isBlobLinkRace) is sent again up to LINK_RACE_RESENDS times, the blobs HEADed before each: many
   * writers of one blob rewrite its link many times.
   */
  private async putManifest(t: T, ref: string, m: ManifestToWrite): Promise<void> {
    for (let resent = 0; ; resent++) {
      try {
        await t.ep.client.putManifest(t.ep.repo, ref, m.bytes, m.mediaType);
        return;
      } catch (err) {
        if (err instanceof RegpushError && err.details.manifestRefused) throw withRefusalAdvice(err, m, this.run.ctx.formatNames);
        if (!(err instanceof RegpushError) || !err.details.registryCodes?.some((c) => RECHECKED_CODES.has(c))) throw err;
        // Sent once more after any of these refusals; more than once only after the answer that
        // names the link race itself (isBlobLinkRace, http/response.ts), up to LINK_RACE_RESENDS, each after the blobs are
        // found again: every concurrent writer of a blob rewrites its link once, so with many (40
        // copies into one repository) the second PUT can meet another writer's rewrite.
        if (resent > 0 && !(isBlobLinkRace(err.details.registryCodes ?? []) && resent < LINK_RACE_RESENDS)) throw err;
        const check = resent === 0 ? (this.recheck(t, m)?.then(() => true) ?? this.presentAll(t, m)) : this.presentAll(t, m);
        if (!check || !(await check)) throw err;
      }
    }
  }

  /**
   * The check, after a MANIFEST_BLOB_UNKNOWN, of the blobs `m` names that the run took on a
   * 201's word at `t`'s repository; undefined when there are none. A blob's check is the run's
   * (TakenOnWord): the manifest PUTs refused while it runs (an index's children go out together,
   * the images of a sync or an --all-tags copy share blobs) wait for that one, and one refused
   * after it passed is sent again without another.
   */
  private recheck(t: T, m: ManifestToWrite): Promise<unknown> | undefined {
    const onWord = this.run.ctx.onWord;
    const named = blobsNamed(m);
    if (!onWord || !named) return undefined;
    const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
    const checks = [...named].flatMap((d) => onWord.check(statedKey(t.ep.client.registry, t.ep.repo, d), () => heads(() => this.headConfirm(t, d))) ?? []);
    if (checks.length === 0) return undefined;
    const started = checks.filter((c) => c.started).length;
    if (started) t.ep.client.logger.info(`${t.ref.registry} did not find a blob of ${formatReference(t.ref)} it had accepted; checking ${started} blob(s) and writing the manifest once more`);
    return Promise.all(checks.map((c) => c.done));
  }

  /**
   * After a refusal that recheck() has no blob of this run's to check for (every blob was found
   * by a HEAD, none written on a 201's word): whether every blob `m` names is at the target now.
   * A third writer (another shard of a `shard: tag` sync, another job) may have rewritten a blob's
   * link while the manifest's check read it; when all are there, the PUT is sent once more, and
   * when one is missing the registry's refusal stands. Undefined for an index (its children are
   * manifests the PUT of each has checked).
   */
  private presentAll(t: T, m: ManifestToWrite): Promise<boolean> | undefined {
    const named = blobsNamed(m);
    if (!named) return undefined;
    const heads = pLimit(Math.max(this.run.jobs, MIN_PLAN_CONCURRENCY));
    t.ep.client.logger.info(
      `${t.ref.registry} refused the manifest of ${formatReference(t.ref)} naming blobs it had; ` +
        `checking ${named.size} blob(s) and writing the manifest once more if all are there`,
    );
    return Promise.all([...named].map((d) => heads(() => t.ep.client.headBlob(t.ep.repo, d)))).then((sizes) => sizes.every((n) => n !== undefined));
  }
}

/** The digests of the blobs an image manifest names (config and layers, foreign layers left out); undefined for an index. */
function blobsNamed(m: ManifestToWrite): Set<string> | undefined {
  const parsed = parseManifest(m.bytes, m.mediaType);
  if (parsed.kind !== 'image') return undefined;
  return new Set([parsed.manifest.config, ...parsed.manifest.layers].filter((d) => !isForeignLayer(d)).map((d) => d.digest));
}

/**
 * `err`, a registry's refusal of manifest `m` itself (RegistryHttp.failWrite's `manifestRefused`:
 * a 400, 405 or 415 with its reason), with what the caller can change. An artifact (a signature,
 * an SBOM) may have a type the registry does not allow: Quay takes only the artifact types its
 * operator lists (ALLOWED_OCI_ARTIFACT_TYPES; oras-project/oras#738). An image may be in a media
 * type the registry does not take: where the operation has a `format` (`formatNames`: push and
 * copy), the other family is named, as containers/image falls back to Docker v2 on such an answer
 * (containers/image#584).
 */
function withRefusalAdvice(err: RegpushError, m: ManifestToWrite, names: OptionNames | undefined): RegpushError {
  const parsed = parseManifest(m.bytes, m.mediaType);
  let advice: string | undefined;
  if (parsed.kind === 'image' && (typeof parsed.manifest.artifactType === 'string' || !isImageConfigMediaType(parsed.manifest.config.mediaType))) {
    advice = `it is an artifact of type ${artifactTypeOf(parsed.manifest)}, which the registry may not allow: Quay takes only the types its operator lists in ALLOWED_OCI_ARTIFACT_TYPES`;
  } else if (names) {
    const other = mediaFamily(m.mediaType) === 'docker' ? 'oci' : 'docker';
    advice =
      `the registry may not take ${other === 'oci' ? 'Docker v2' : 'OCI'} manifests: ` +
      `${names.op ?? names.command ?? 'push'} with ${names.set('format', other)} writes ${other === 'oci' ? 'OCI' : 'Docker v2'} instead`;
  }
  if (advice) err.message = `${err.message} (${advice})`;
  return err;
}

/** A manifest PUT's refusals that a check of the blobs taken on a 201's word may clear (ManifestCommit.putManifest). */
const RECHECKED_CODES: ReadonlySet<string> = new Set(['MANIFEST_BLOB_UNKNOWN', 'DIGEST_INVALID']);

/**
 * The most times a manifest PUT is sent again after distribution's answer to the link race
 * (isBlobLinkRace, http/response.ts): a bound, so a registry that gives that answer for another cause fails the commit
 * after a few HEADs and PUTs, not never.
 */
const LINK_RACE_RESENDS = 3;

