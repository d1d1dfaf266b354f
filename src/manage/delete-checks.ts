/**
 * What delete finds out before it deletes (deleteImage in manage.ts): the search for what else the
 * deletion takes with it (the tags pointing at the manifest, the indexes tagged in the repository
 * that list it), and the probe of whether the registry allows deletes at all. A module of its own:
 * these are most of delete's requests and all of its bounds, apart from the commands' common path.
 */
import { deletesEnabledBy } from '../registry/quirks.js';
import pLimit from 'p-limit';
import { RegpushError, UnsupportedError } from '../errors.js';
import { isValidDigest, sha256Digest } from '../image/digest.js';
import { parseManifest } from '../image/manifest.js';
import { isImageManifestMediaType, isIndexMediaType, isSchema1MediaType } from '../image/mediatypes.js';
import type { Logger } from '../log.js';
import { nameableTags } from '../ref/grammar.js';
import { repositoryName, type ImageReference } from '../ref/reference.js';
import type { FetchedManifest, ManifestHead, RegistryClient } from '../registry/registry-client.js';

/**
 * Most tags delete looks up to find what else a deletion takes with it; past it, they are not
 * checked. What the check costs, at most: the tag list (a request per page), a manifest HEAD per
 * tag, and a GET per other manifest a tag names that may be an index: one whose HEAD says index,
 * or says no manifest type (see mayBeIndex), each digest read once. The HEADs and GETs go
 * DELETE_LOOKUPS_AT_ONCE at a time, so 1000 tags are 63 round trips of HEADs.
 */
const DELETE_TAG_CHECK_LIMIT = 1000;

/**
 * Manifest HEADs (and GETs) delete has in flight at once while it looks the tags up: as many as
 * the transport keeps connections to one registry (16, src/http/axios-send.ts), so that each round
 * trip of lookups uses every connection and none waits in the pool's queue. It was 8: 125 round
 * trips for 1000 tags.
 */
const DELETE_LOOKUPS_AT_ONCE = 16;

/** What else in the repository a manifest's deletion touches, as deleteImage() found it. */
export interface Dependents {
  /** Every tag pointing at the manifest (they go with it), in the registry's order. */
  tags: string[];
  /** Tags of image indexes that list the manifest (they stay, broken: a pull of that platform fails). */
  indexTags: string[];
}

/** "a", "a and b", "a, b and c". */
export function listed(names: string[]): string {
  return names.length < 2 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * Whether a manifest may be an index, by the media type its lookup gave: an index type (OCI's or
 * Docker's manifest list) yes; an image manifest type (or schema 1) no, taken at its word, so a
 * registry that names its types costs no GET but of its indexes; anything else (none at all, or a
 * generic application/json or application/octet-stream) may be either, and the manifest is read
 * to tell. Registries and fronts do answer so: a HEAD without Content-Type (Harbor's proxy cache
 * before 2.1.3, goharbor/harbor#13740), application/json for a manifest (Artifactory 4.4,
 * concourse/docker-image-resource#40; Katello's HEAD, Katello/katello#8070). The body's own
 * mediaType (or its shape) is what decides (opencontainers/image-spec#390).
 */
function mayBeIndex(mediaType: string | undefined): boolean {
  return isIndexMediaType(mediaType) || !(isImageManifestMediaType(mediaType) || isSchema1MediaType(mediaType));
}

/** The repository's tag list as deleteImage() asked for it (alongside the manifest's own lookup), or why it could not be read. */
export type TagListing = { tags: string[] } | { err: unknown };

/**
 * The tags pointing at `digest` and the tags of the indexes listing it: the tag list (`listing`),
 * a manifest HEAD per tag (DELETE_TAG_CHECK_LIMIT of them at most) and a GET of each other
 * manifest that may be an index (mayBeIndex), each once, DELETE_LOOKUPS_AT_ONCE at a time.
 * Undefined, with a warning, when that could not be found out: more tags than the bound, or a tag
 * list the registry refuses. A registry deletes a manifest whatever points at it (distribution
 * removes its tags with it and leaves indexes listing it dangling), so this is the only place
 * anyone is told before.
 *
 * `halt` stops the lookups not yet sent, once their answer cannot matter (the registry refuses
 * deletes); a lookup in flight still finishes. `resolved`: the manifest's digest and media type,
 * as deleteImage() resolved them (the members of its DigestResult read here, spelt out so that this
 * module imports nothing of manage.ts, which imports it).
 */
export async function dependentsOf(
  client: RegistryClient,
  ref: ImageReference,
  resolved: { digest: string; mediaType?: string },
  log: Logger,
  listing: Promise<TagListing>,
  halt: AbortSignal,
): Promise<Dependents | undefined> {
  const digest = resolved.digest;
  const repo = ref.repository;
  const list = await listing;
  if ('err' in list) {
    const err = list.err;
    if (!(err instanceof RegpushError) || err.code === 'E_ABORTED') throw err;
    log.warn(`the tags of ${repositoryName(ref)} could not be listed (${err.message}): which other tags point at ${digest}, or which indexes list it, was not checked`);
    return undefined;
  }
  // A listed name no reference can name is not looked up (the manifest lookups refuse it: registry-http.ts refUrl).
  const tags = nameableTags(list.tags, repositoryName(ref), (line) => log.warn(line));
  if (tags.length > DELETE_TAG_CHECK_LIMIT) {
    log.warn(
      `${repositoryName(ref)} has ${tags.length} tags, more than the ${DELETE_TAG_CHECK_LIMIT} regpush looks up before a delete: ` +
        `which other tags point at ${digest}, or which indexes list it, was not checked`,
    );
    return undefined;
  }
  const limit = pLimit(DELETE_LOOKUPS_AT_ONCE);
  // One lookup, not sent once halted. (One that fails ends the delete: the transport is closed
  // then, and the lookups still queued fail without a request.)
  const bounded = <T>(fn: () => Promise<T>): Promise<T> =>
    limit(async () => {
      if (halt.aborted) throw halt.reason;
      return fn();
    });
  const heads: (ManifestHead | undefined)[] = await Promise.all(
    tags.map((tag) =>
      bounded(async () => {
        // The tag given was looked up already.
        if (ref.digest === undefined && tag === ref.tag) return { digest, mediaType: resolved.mediaType };
        const head = await client.headManifest(repo, tag);
        if (!head || (head.digest && isValidDigest(head.digest))) return head;
        // A HEAD without Docker-Content-Digest: the digest from the bytes (as digest does), which then also say what the manifest is.
        const got = await client.getManifest(repo, tag);
        return { ...head, digest: got.digest, got };
      }),
    ),
  );
  const onIt = tags.filter((_, i) => heads[i]?.digest === digest);
  // The other manifests that may be indexes, each once, with the tags naming it (and the bytes where a lookup read them).
  const toRead = new Map<string, { tags: string[]; got?: FetchedManifest; said?: string }>();
  tags.forEach((t, i) => {
    const h = heads[i];
    if (!h?.digest || h.digest === digest || !mayBeIndex(h.mediaType)) return;
    const entry = toRead.get(h.digest) ?? { tags: [], got: h.got, said: h.mediaType };
    entry.tags.push(t);
    toRead.set(h.digest, entry);
  });
  const listers = await Promise.all(
    [...toRead].map(([other, { tags: named, got, said }]) =>
      bounded(async () => {
        let parsed: ReturnType<typeof parseManifest>;
        try {
          const m = got ?? (await client.getManifest(repo, other));
          parsed = parseManifest(m.bytes, m.mediaType);
        } catch (err) {
          if (!(err instanceof RegpushError) || err.code === 'E_ABORTED') throw err;
          // A manifest of a type regpush does not read (an artifact's, schema 1) is no index.
          if (err.code === 'E_UNSUPPORTED' && !isIndexMediaType(said)) return [];
          const what = isIndexMediaType(said) ? 'the index' : 'the manifest';
          log.warn(`${what} tagged ${listed(named)} could not be read (${err.message}): whether it lists ${digest} was not checked`);
          return [];
        }
        return parsed.kind === 'index' && parsed.index.manifests.some((m) => m.digest === digest) ? named : [];
      }),
    ),
  );
  return { tags: onIt, indexTags: listers.flat() };
}

/**
 * A digest no manifest has: that of bytes that are not JSON, so no registry took them as a
 * manifest. deletesRefused() asks the registry to delete it.
 */
const PROBE_DIGEST = sha256Digest('regpush: does this registry allow deletes? No manifest has these bytes.');

/**
 * The registry's refusal of every manifest DELETE, found out with a DELETE of PROBE_DIGEST, which
 * is not there: a registry that does not allow deletes answers it 405 UNSUPPORTED, as it would the
 * real one (distribution with `storage.delete.enabled: false` refuses before looking the digest
 * up; so does a pull-through cache), where one that allows them answers 404 and deletes nothing.
 * It is sent alongside the manifest's lookup and the tag list, so it costs no round trip, and a
 * refusal stops the tag lookups (up to DELETE_TAG_CHECK_LIMIT HEADs) after the first round instead
 * of after all of them. Undefined for any other answer (404, a denial, a failure): the real DELETE
 * meets it and says what it means.
 */
export async function deletesRefused(client: RegistryClient, repo: string, log: Logger): Promise<UnsupportedError | undefined> {
  try {
    await client.deleteManifest(repo, PROBE_DIGEST);
  } catch (err) {
    if (err instanceof UnsupportedError) return err;
    const answer = err instanceof RegpushError ? (err.details.status ?? err.code) : 'with a failure';
    log.debug(`${client.registry}: a DELETE of a manifest that is not there was answered ${answer}: deletes are not refused outright`);
  }
  return undefined;
}

/** deletesRefused()'s finding, as the delete of `byDigest` reports it. */
export function deletesOff(err: UnsupportedError, registry: string, byDigest: string): UnsupportedError {
  const codes = err.details.registryCodes?.length ? ` ${err.details.registryCodes.join(', ')}` : '';
  return new UnsupportedError(
    `${registry} does not allow deleting manifests: it answered ${err.details.status ?? '405'}${codes} to a DELETE of one that is not there, ` +
      `asked first so that the tags are not looked up for nothing (${deletesEnabledBy(registry)}); ${byDigest} was not deleted`,
    { cause: err, details: err.details },
  );
}
