/**
 * The everyday registry commands: list a repository's tags, print a reference's digest, add tags
 * to an image, remove one tag, delete a manifest. Each is one or two Distribution API calls, made through the same
 * transport, credentials and error catalogue as push and copy (`withClient`, registry/one-client-operation.ts).
 * What delete looks up before it deletes is in delete-checks.ts; a manifest's lookup (digest,
 * tag, untag, delete) is the client's headManifest, which falls back on the GET where a registry
 * refuses HEAD (registry/manifests.ts).
 */
import { deletesEnabledBy } from '../registry/quirks.js';
import { AbortedError, AuthError, InvalidReferenceError, NotFoundError, PartialFailureError, RegpushError, rejectsTyped, UnsupportedError, UsageError } from '../errors.js';
import { redactTyped, scrubbedRejections } from '../redact.js';
import { isValidDigest } from '../image/digest.js';
import { parseManifest } from '../image/manifest.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Platform } from '../image/types.js';
import { silentLogger, type Logger } from '../log.js';
import { checkTag, digestReference, formatReference, manifestRef, parseReferenceAs, referenceArgument, repositoryName, type ImageReference } from '../ref/reference.js';
import { registryHostOf } from '../ref/registry.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { checkArgument, checkOptions, REFERENCE_ARGUMENT, STRINGS, type Shape } from '../options-check.js';
import { connectionOptionNames, optionPaths, type ConnectionNames, type OptionNames } from '../option-names.js';
import { checkConnectionRanges } from '../registry/limits.js';
import { CONNECTION_SHAPE } from '../registry/connection-shape.js';
import { withClient } from '../registry/one-client-operation.js';
import type { DeleteOptions, DeleteResult, DigestOptions, DigestResult, ListTagsOptions, ManageOptions, RepositoryList, TagImageResult, TagList, UntagOptions, UntagResult } from './options.js';
import { notFoundAdvice } from '../http/response.js';
import { refusalReach } from '../auth/refusals.js';
import { deleteScopeActions } from '../registry/quirks.js';
import { pickPlatform } from '../transfer/graph.js';
import { deletesOff, deletesRefused, dependentsOf, listed, type Dependents, type TagListing } from './delete-checks.js';

/** The options of each command as a plain-JS caller must give them (options-check.ts). @internal */
export const MANAGE_SHAPE = { fields: CONNECTION_SHAPE } satisfies Shape;
/** @internal */
export const DIGEST_SHAPE = { fields: { ...CONNECTION_SHAPE, platform: 'string' } } satisfies Shape;
/** @internal */
export const LIST_TAGS_SHAPE = { fields: { ...CONNECTION_SHAPE, pageSize: 'number' } } satisfies Shape;
/** @internal */
export const DELETE_SHAPE = { fields: { ...CONNECTION_SHAPE, force: 'boolean' } } satisfies Shape;

/** Most tags asked for on one page (distribution caps `n` itself; this keeps a typo from asking for millions). @internal */
const MAX_PAGE_SIZE = 10_000;

/**
 * A registry named without a repository (`127.0.0.1:5000`, `localhost`, `registry.example.com`):
 * no `/`, and the name is a host as a reference's first component is one (a `.`, or `localhost`,
 * or an IPv6 literal) with a port if any. Read as a reference it would be a Docker Hub image
 * (`docker.io/library/127.0.0.1:5000`), and the error would point there. `nginx:1.27` stays an
 * image with a tag: what follows its colon is no port.
 */
function looksLikeRegistry(input: string): boolean {
  if (input.includes('/') || input.includes('@')) return false;
  if (input.startsWith('[')) return true;
  const colon = input.indexOf(':');
  const name = colon < 0 ? input : input.slice(0, colon);
  return (name.includes('.') || name.toLowerCase() === 'localhost') && (colon < 0 || /^\d+$/.test(input.slice(colon + 1)));
}

/**
 * `name:port`: one DNS label and a port of digits, no `.` (`registry:5000`, a compose service or
 * an /etc/hosts name). As an image reference it is a Docker Hub image with a numeric tag; where
 * only a registry can be meant (catalog), it is that registry.
 */
function isNameWithPort(input: string): boolean {
  return /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?:\d{1,5}$/.test(input);
}

/**
 * Parses a repository name for `tags`: a tag or digest there is a mistake (the command lists the
 * tags of the whole repository), reported rather than ignored. `names`: the operation's
 * `connectionNames` (parseReferenceAs).
 * @internal
 */
function parseRepository(input: string, names?: ConnectionNames): ImageReference {
  if (looksLikeRegistry(input)) {
    throw new InvalidReferenceError(`${JSON.stringify(input)} is a registry, not a repository; name a repository in it, e.g. ${input}/app`);
  }
  const ref = parseReferenceAs(input, names);
  const lastPart = input.slice(input.lastIndexOf('/') + 1);
  if (ref.digest !== undefined || lastPart.includes(':')) {
    // `registry:5000` is a Docker Hub image with tag 5000 as a reference, and as likely a registry
    // named by a compose service or /etc/hosts name: both readings are offered.
    const orRegistry = isNameWithPort(input) ? `; or, if ${input} is a registry, a repository in it, e.g. ${input}/app` : '';
    throw new InvalidReferenceError(`${JSON.stringify(input)} names an image, not a repository; give the repository alone, e.g. ${repositoryName(ref)}${orRegistry}`);
  }
  return { registry: ref.registry, repository: ref.repository };
}

/** What lists the tags of `repository`, as the caller's `connectionNames` word it (the CLI: its command), else the library's function. */
function tagsOf(names: ConnectionNames | undefined, repository: string): string {
  return (names?.tagsOf ?? connectionOptionNames.tagsOf!)(repository);
}

/** The "not found" of a HEAD, which carries no error body to quote; advised as a 404 with one is (`names`). */
function notFound(ref: ImageReference, names: ConnectionNames): NotFoundError {
  return new NotFoundError(`${formatReference(ref)} not found: ${ref.registry} answered 404 (${notFoundAdvice(names)})`, {
    details: { registry: ref.registry, status: 404 },
  });
}

/** Every tag of a repository, following Link pagination. Credentials: the `from` role. */
export async function listTags(repository: string | ImageReference, opts: ListTagsOptions = {}): Promise<TagList> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => listTagsUntyped(repository, o)));
}

/** listTags() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function listTagsUntyped(repository: string | ImageReference, opts: ListTagsOptions): Promise<TagList> {
  checkArgument('listTags()', 'repository', repository, REFERENCE_ARGUMENT);
  checkOptions('listTags()', opts, LIST_TAGS_SHAPE);
  checkConnectionRanges(opts, optionPaths('listTags()').about);
  const ref =
    typeof repository === 'string'
      ? parseRepository(repository, opts.connectionNames)
      : referenceArgument({ registry: repository.registry, repository: repository.repository }, opts.connectionNames);
  const pageSize = checkPageSize(opts.pageSize, 'listTags(): pageSize');
  return withClient(
    ref,
    'from',
    ['pull'],
    opts,
    async (client) => ({
      repository: repositoryName(ref),
      tags: await client.listTags(ref.repository, pageSize),
    }),
    'repository',
  );
}

/**
 * A page size, checked; default 1000. `name` is what the message calls it: the CLI's
 * `--page-size`, or the library's option path (`listTags(): pageSize`), as checkJobs names jobs.
 * @internal Not part of the library: left out of the published declarations (stripInternal).
 */
export function checkPageSize(given: number | undefined, name: string): number {
  const pageSize = given ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new UsageError(`${name} must be a whole number from 1 to ${MAX_PAGE_SIZE} (got ${pageSize})`);
  }
  return pageSize;
}

/**
 * Every repository of a registry, from its catalog (`GET /v2/_catalog`, following Link
 * pagination). Credentials: the `from` role; a token service must grant `registry:catalog:*`,
 * which the registry's challenge names (distribution's and Harbor's grant it to administrators).
 * A registry without a catalog (Docker Hub, GHCR, ECR, GAR answer 404) is E_UNSUPPORTED.
 */
export async function listRepositories(registry: string, opts: ListTagsOptions = {}): Promise<RepositoryList> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => listRepositoriesUntyped(registry, o)));
}

/** listRepositories() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function listRepositoriesUntyped(registry: string, opts: ListTagsOptions): Promise<RepositoryList> {
  checkArgument('listRepositories()', 'registry', registry, 'string');
  checkOptions('listRepositories()', opts, LIST_TAGS_SHAPE);
  checkConnectionRanges(opts, optionPaths('listRepositories()').about);
  const host = registryHostOf(registry);
  // catalog only ever takes a registry, so `registry:5000` is one (looksLikeRegistry reads it as an image).
  if (!host || !(looksLikeRegistry(host) || isNameWithPort(host))) {
    throw new InvalidReferenceError(
      `${JSON.stringify(redactTyped(registry))} is not a registry host; give e.g. registry.example.com or 127.0.0.1:5000 ` +
        `(a repository's tags: ${tagsOf(opts.connectionNames, 'REPOSITORY')})`,
    );
  }
  const pageSize = checkPageSize(opts.pageSize, 'listRepositories(): pageSize');
  return withClient({ registry: host, repository: '' }, 'from', [], opts, async (client) => {
    try {
      return { registry: host, repositories: await client.listRepositories(pageSize) };
    } catch (err) {
      // Valid credentials are refused here too: the catalog is an administrator's right. Not where
      // the credentials themselves were refused (a Basic registry's 401, the token service's),
      // which no right would mend: those reach the whole registry (refusalReach).
      if (err instanceof AuthError && err.details.anonymous !== true && refusalReach(err) === 'repository') {
        throw new AuthError(`${err.message}; the catalog needs registry:catalog:*, which token services commonly grant to administrators only`, { cause: err, details: err.details });
      }
      if (!(err instanceof NotFoundError)) throw err;
      throw new UnsupportedError(
        `${host} offers no catalog (GET /v2/_catalog answered 404; Docker Hub, GHCR, ECR and GAR have none): ` +
          `list a repository's tags with ${tagsOf(opts.connectionNames, `${host}/REPOSITORY`)}`,
        {
          cause: err,
          details: err.details,
        },
      );
    }
  });
}

/**
 * The digest a reference resolves to, from a manifest HEAD (no body read). A registry that leaves
 * `Docker-Content-Digest` out of its HEAD answer, or refuses the HEAD (405, 400, 501), gets a GET,
 * and the digest is computed from the bytes. Credentials: the `from` role.
 */
export async function digestOf(reference: string | ImageReference, opts: DigestOptions = {}): Promise<DigestResult> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => digestOfUntyped(reference, o)));
}

/** digestOf() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function digestOfUntyped(reference: string | ImageReference, opts: DigestOptions): Promise<DigestResult> {
  checkArgument('digestOf()', 'reference', reference, REFERENCE_ARGUMENT);
  checkOptions('digestOf()', opts, DIGEST_SHAPE);
  checkConnectionRanges(opts, optionPaths('digestOf()').about);
  const ref = referenceArgument(reference, opts.connectionNames);
  // The CLI's `digest --platform` is checked there first, in its own words (a bare `invalid platform`).
  const want = opts.platform === undefined ? undefined : parsePlatform(opts.platform, 'digestOf(): platform');
  const log = opts.logger ?? silentLogger;
  return withClient(ref, 'from', ['pull'], opts, (client, names) => (want ? platformDigest(client, ref, want) : resolveDigest(client, names, ref, log)), 'tags');
}

/**
 * The digest of `want`'s image at `ref`: the index's child for it (its descriptor names the digest:
 * no second manifest request), or the single image itself when its config says it is `want` —
 * refused otherwise, as push and copy refuse it, picked by the resolver inspect uses (pickPlatform): the digest of an amd64 image printed for
 * `--platform linux/arm64` would be deployed as the arm64 one.
 */
async function platformDigest(client: RegistryClient, ref: ImageReference, want: Platform): Promise<DigestResult> {
  const name = formatReference(ref);
  const got = await client.getManifest(ref.repository, manifestRef(ref));
  const parsed = parseManifest(got.bytes, got.mediaType);
  const picked = await pickPlatform(client, ref.repository, parsed, want, name);
  const mirror = got.mirror ? { mirror: got.mirror } : {};
  if ('config' in picked) return { reference: name, digest: got.digest, mediaType: parsed.mediaType, size: got.bytes.length, ...mirror };
  const { child } = picked;
  return {
    reference: name,
    digest: child.digest,
    mediaType: child.mediaType,
    size: child.size,
    indexDigest: got.digest,
    ...(child.platform ? { platform: formatPlatform(child.platform) } : {}),
    ...mirror,
  };
}

/** HEAD (GET where the HEAD is refused), and GET when the HEAD answer names no digest; a 404 is E_NOT_FOUND. */
async function resolveDigest(client: RegistryClient, names: ConnectionNames, ref: ImageReference, log: Logger): Promise<DigestResult> {
  const head = await client.headManifest(ref.repository, manifestRef(ref));
  if (!head) throw notFound(ref, names);
  // A digest reference that exists is its own answer.
  const stated = head.digest && isValidDigest(head.digest) ? head.digest : ref.digest;
  if (stated) return digestResult(ref, stated, head.mediaType, head.size, head.mirror);
  log.debug(`${ref.registry} sent no Docker-Content-Digest with HEAD; reading the manifest to compute the digest`);
  const got = await client.getManifest(ref.repository, manifestRef(ref));
  return digestResult(ref, got.digest, got.mediaType || head.mediaType, got.bytes.length, got.mirror);
}

/**
 * A DigestResult with its members in one order, the one `digest --json` documents (reference,
 * digest, mediaType, size, mirror), whichever way the digest was found; the ones not known left out.
 */
function digestResult(ref: ImageReference, digest: string, mediaType: string | undefined, size: number | undefined, mirror: string | undefined): DigestResult {
  return { reference: formatReference(ref), digest, ...(mediaType !== undefined ? { mediaType } : {}), ...(size !== undefined ? { size } : {}), ...(mirror ? { mirror } : {}) };
}

/**
 * Adds tags to an image in its own repository: GET the manifest once, PUT the exact bytes under
 * each new tag (no blob is read: they are in the repository already). A tag that already points
 * at the digest is left alone. Every tag is tried: when some fail and others are in place, the
 * rejection is E_PARTIAL with the result in `details.result`; when every one failed, the first
 * one's own error. Credentials: the `to` role (pull and push).
 */
export async function tagImage(reference: string | ImageReference, newTags: readonly string[], opts: ManageOptions = {}): Promise<TagImageResult> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => tagImageUntyped(reference, newTags, o), 'tagImage'));
}

/** tagImage() itself; its failures as they come (rejectsTyped makes each a RegpushError). */
async function tagImageUntyped(reference: string | ImageReference, newTags: readonly string[], opts: ManageOptions): Promise<TagImageResult> {
  checkArgument('tagImage()', 'reference', reference, REFERENCE_ARGUMENT);
  checkArgument('tagImage()', 'newTags', newTags, STRINGS);
  checkOptions('tagImage()', opts, MANAGE_SHAPE);
  checkConnectionRanges(opts, optionPaths('tagImage()').about);
  const ref = referenceArgument(reference, opts.connectionNames);
  if (newTags.length === 0) throw new UsageError('tagImage(): newTags must name at least one new tag');
  for (const t of newTags) {
    if (/[/@]/.test(t) || t.includes(':')) {
      throw new InvalidReferenceError(
        `new tag ${JSON.stringify(t)} is not a plain tag: tag adds tags in ${repositoryName(ref)} only; ` +
          `to put the image in another repository use ${opts.connectionNames?.copy ?? connectionOptionNames.copy!}`,
      );
    }
    checkTag(t);
  }
  const tags = [...new Set(newTags)];
  // What was done before an interruption, which the AbortedError then says (interruptedTagging).
  const placed: string[] = [];
  const tagsUnchanged: string[] = [];
  const failed: { tag: string; err: RegpushError }[] = [];
  let source: { digest: string; mediaType: string } | undefined;
  return withClient(ref, 'to', ['pull', 'push'], opts, async (client) => {
    const got = await client.getManifest(ref.repository, manifestRef(ref));
    // The manifest's own mediaType decides, as for copy: the Content-Type a registry or proxy sent
    // may be missing or generic (application/json), and a PUT under it is refused (MANIFEST_INVALID).
    const mediaType = parseManifest(got.bytes, got.mediaType).mediaType;
    source = { digest: got.digest, mediaType };
    for (const tag of tags) {
      try {
        const head = await client.headManifest(ref.repository, tag);
        if (head?.digest === got.digest) tagsUnchanged.push(tag);
        else await client.putManifest(ref.repository, tag, got.bytes, mediaType);
        placed.push(tag);
      } catch (err) {
        // One tag refused (an immutable tag on Harbor or ECR, say) does not keep the others from
        // being written: stopping there would leave the repository half-tagged without a word of
        // which tags moved. An interruption, or a bug, stops at once.
        if (!(err instanceof RegpushError) || err.code === 'E_ABORTED' || opts.signal?.aborted) throw err;
        failed.push({ tag, err });
      }
    }
    const result: TagImageResult = {
      source: formatReference(ref),
      digest: got.digest,
      mediaType,
      tags: placed,
      tagsUnchanged,
      tagsFailed: failed.map(({ tag, err }) => ({ tag, error: { code: err.code, message: err.message } })),
      references: placed.map((t) => `${repositoryName(ref)}:${t}`),
    };
    if (failed.length === 0) return result;
    if (placed.length === 0) throw failed[0]!.err;
    const written = placed.filter((t) => !tagsUnchanged.includes(t));
    const said = [written.length ? `written: ${written.join(', ')}` : '', tagsUnchanged.length ? `already there: ${tagsUnchanged.join(', ')}` : ''].filter(Boolean).join('; ');
    throw new PartialFailureError(
      `${failed.length} of ${tags.length} tags failed: ${failed.map(({ tag, err }) => `${repositoryName(ref)}:${tag} (${err.code}: ${err.message})`).join('; ')}; ${said}`,
      { details: { result, failed: failed.map(({ tag }) => `${repositoryName(ref)}:${tag}`) } },
    );
  }, 'tags').catch((err: unknown) => {
    throw err instanceof AbortedError && source ? interruptedTagging(err, ref, source, tags, placed, tagsUnchanged, failed) : err;
  });
}

/**
 * An interrupted tagImage()'s error (`err`: withAbortReason's, naming the request cut off) with
 * what it did before the interruption: the tags written there named in its line, and its result
 * in `details.result` as E_PARTIAL's (`tags`, `tagsUnchanged`; every tag not placed in
 * `tagsFailed`, E_ABORTED, the one whose request was cut first), `details.failed` naming those.
 * A PUT cut off may have taken effect (the line says so): its tag is among the failed, as not known.
 */
function interruptedTagging(
  err: AbortedError,
  ref: ImageReference,
  source: { digest: string; mediaType: string },
  tags: readonly string[],
  placed: readonly string[],
  tagsUnchanged: readonly string[],
  refused: readonly { tag: string; err: RegpushError }[],
): AbortedError {
  const notDone = tags.filter((t) => !placed.includes(t) && !refused.some((f) => f.tag === t));
  const tagsFailed = [
    ...refused.map(({ tag, err: e }) => ({ tag, error: { code: e.code, message: e.message } })),
    ...notDone.map((tag, i) => ({ tag, error: { code: err.code, message: i === 0 ? err.message : 'not written: the operation was interrupted before it' } })),
  ];
  const result: TagImageResult = {
    source: formatReference(ref),
    digest: source.digest,
    mediaType: source.mediaType,
    tags: [...placed],
    tagsUnchanged: [...tagsUnchanged],
    tagsFailed,
    references: placed.map((t) => `${repositoryName(ref)}:${t}`),
  };
  const written = placed.filter((t) => !tagsUnchanged.includes(t));
  const said = [written.length ? `written before it: ${written.join(', ')}` : '', tagsUnchanged.length ? `already there: ${tagsUnchanged.join(', ')}` : ''].filter(Boolean);
  const message = said.length ? `${err.message}; ${said.join('; ')}` : err.message;
  return new AbortedError(message, { cause: err.cause, details: { ...err.details, result, failed: tagsFailed.map(({ tag }) => `${repositoryName(ref)}:${tag}`) } });
}

/**
 * Removes one tag, leaving the manifest it points at (and any other tag on it) in place: the OCI
 * distribution spec's `DELETE /v2/<repo>/manifests/<tag>`. The tag is looked up first (HEAD, or
 * GET where HEAD is refused), so a missing one is E_NOT_FOUND naming it, and the result names the
 * digest it pointed at. A registry that deletes by digest only answers the DELETE 400 or 405
 * (UNSUPPORTED at CNCF distribution before 3.0): that is E_UNSUPPORTED, saying what deletes the
 * tag there — deleting the manifest, every tag on it included — or, where a DELETE by digest is
 * refused as well (asked once, after the refusal), that the registry allows no deletes at all.
 * A digest reference is E_REFERENCE: a tag is what is removed. Credentials: the `to` role, with
 * delete's scope (deleteScopeActions).
 */
export async function untagImage(reference: string | ImageReference, opts: UntagOptions = {}): Promise<UntagResult> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => untagImageAs(reference, o, UNTAG_NAMES)));
}

/** Whether reference text names a tag itself: a ":" in its last path component, before any "@" (a registry's ":port" comes before a "/"). */
function writesTag(text: string): boolean {
  const name = text.split('@')[0]!;
  return name.slice(name.lastIndexOf('/') + 1).includes(':');
}

/** What untagImage()'s messages call the operation and its options. */
const UNTAG_NAMES = optionPaths('untagImage()');

/**
 * untagImage() for a caller whose messages name the operations its own way (`names`): its advice
 * words what to run instead through OptionNames.instead (the library's deleteImage() call, or the
 * caller's own command for it). Not part of the library's surface.
 * @internal
 */
export async function untagImageAs(reference: string | ImageReference, opts: UntagOptions, names: OptionNames): Promise<UntagResult> {
  checkArgument('untagImage()', 'reference', reference, REFERENCE_ARGUMENT);
  checkOptions('untagImage()', opts, MANAGE_SHAPE);
  checkConnectionRanges(opts, (o) => names.about(o));
  const ref = referenceArgument(reference, opts.connectionNames);
  const name = formatReference(ref);
  const untag = names.command ?? names.op;
  if (ref.digest !== undefined) {
    throw new InvalidReferenceError(`${name} names a digest: ${untag} removes a tag (${repositoryName(ref)}:TAG); to delete the manifest itself, use ${names.instead('deleteImage()', name)}`);
  }
  // A reference without a tag reads as ":latest" everywhere else; a command that removes the tag
  // it is given takes it only written out, so that `untag host/app` cannot remove `latest` unasked.
  if (ref.tag === undefined || (typeof reference === 'string' && !writesTag(reference))) {
    throw new InvalidReferenceError(`${repositoryName(ref)} names no tag: ${untag} removes the tag it is given, written out (${repositoryName(ref)}:TAG); "latest" is not assumed`);
  }
  const tag = ref.tag;
  const log = opts.logger ?? silentLogger;
  return withClient(ref, 'to', deleteScopeActions(ref.registry), opts, async (client, hintNames) => {
    const { digest } = await resolveDigest(client, hintNames, ref, log);
    try {
      await client.deleteTag(ref.repository, tag);
    } catch (err) {
      if (err instanceof UnsupportedError) throw await untagRefused(client, ref, err, names, log);
      // Found by the lookup above, so a 404 now is, as for delete, an earlier attempt of this
      // DELETE that removed the tag and whose answer was lost (the transport sent it again) —
      // once a lookup confirms the tag is gone.
      if (!(err instanceof NotFoundError) || (await client.headManifest(ref.repository, tag).catch(() => true)) !== undefined) throw err;
      log.info(`the DELETE of ${name} was answered 404 and the tag is gone: an earlier attempt whose answer was lost removed it`);
    }
    log.info(`removed tag ${name}; manifest ${digestReference(ref, digest)} stays`);
    return { reference: name, digest };
  }, 'tags');
}

/**
 * untagImage()'s E_UNSUPPORTED for a registry that refused the DELETE of a tag (`refusal`): one that
 * deletes by digest only, or, when a DELETE of a manifest that is not there is refused as well
 * (deletesRefused), one that allows no deletes at all, where deleting the manifest would be refused too.
 */
async function untagRefused(client: RegistryClient, ref: ImageReference, refusal: UnsupportedError, names: OptionNames, log: Logger): Promise<UnsupportedError> {
  const name = formatReference(ref);
  const codes = refusal.details.registryCodes?.length ? ` ${refusal.details.registryCodes.join(', ')}` : '';
  const answer = `it answered ${refusal.details.status ?? 'UNSUPPORTED'}${codes} to the DELETE of tag ${ref.tag}`;
  const off = await deletesRefused(client, ref.repository, log);
  if (off) {
    return new UnsupportedError(
      `${ref.registry} does not allow deleting tags or manifests: ${answer}, and likewise to a DELETE by digest (${deletesEnabledBy(ref.registry)}); the tag stays`,
      { cause: refusal, details: refusal.details },
    );
  }
  return new UnsupportedError(
    `${ref.registry} deletes manifests by digest only: ${answer}, which stays; ${names.instead('deleteImage()', name, { force: true })} removes the manifest and every tag on it`,
    { cause: refusal, details: refusal.details },
  );
}

/**
 * Deletes a manifest by digest. Deleting a manifest removes every tag pointing at it, so a tag is
 * accepted only with `force` (it is resolved to its digest first). Before the DELETE, the
 * repository's tags are looked up (dependentsOf, at most DELETE_TAG_CHECK_LIMIT): the tags that
 * go with the manifest are named (in the refusal without `force`, in the warning and the result
 * with it), and a manifest an index tagged in the repository lists (a platform's image) is
 * refused without `force` even by digest, since deleting it breaks that index. Deleting an index
 * leaves its children in place. The manifest is looked up with a HEAD before the DELETE, so a
 * missing one is E_NOT_FOUND whatever the registry answers to DELETE, and a 404 to the DELETE
 * itself (a retried DELETE whose first attempt deleted it) is a delete done. A registry that
 * refuses every DELETE is found out alongside the first lookups (deletesRefused), and the tags
 * are not looked up for nothing. Credentials: the `to` role (pull and delete; pull and push at
 * Quay, see deleteScopeActions in registry/quirks.ts).
 */
export async function deleteImage(reference: string | ImageReference, opts: DeleteOptions = {}): Promise<DeleteResult> {
  return scrubbedRejections(opts, (o) => rejectsTyped(() => deleteImageAs(reference, o, DELETE_NAMES)));
}

/** What deleteImage()'s messages call its options: their paths (`force: true`). */
const DELETE_NAMES = optionPaths('deleteImage()');

/**
 * deleteImage() for a caller whose messages name the options its own way (`names`): its refusals
 * name `force` and what removes the tag alone (untagImage(), OptionNames.instead) as the caller
 * would. Not part of the library's surface.
 * @internal
 */
export async function deleteImageAs(reference: string | ImageReference, opts: DeleteOptions, names: OptionNames): Promise<DeleteResult> {
  checkArgument('deleteImage()', 'reference', reference, REFERENCE_ARGUMENT);
  checkOptions('deleteImage()', opts, DELETE_SHAPE);
  checkConnectionRanges(opts, (o) => names.about(o));
  const ref = referenceArgument(reference, opts.connectionNames);
  const log = opts.logger ?? silentLogger;
  return withClient(ref, 'to', deleteScopeActions(ref.registry), opts, async (client, hintNames) => {
    // Sent at once, side by side: whether the registry refuses deletes outright (it stops the tag
    // lookups), the tag list, and the manifest's own lookup.
    const halt = new AbortController();
    const refused = deletesRefused(client, ref.repository, log);
    void refused.then((err) => err && halt.abort(err));
    const listing: Promise<TagListing> = client.listTags(ref.repository).then(
      (tags) => ({ tags }),
      (err: unknown) => ({ err }),
    );
    // By digest too: a missing manifest is then E_NOT_FOUND, whatever a registry answers to DELETE.
    const resolved = await resolveDigest(client, hintNames, ref, log);
    const digest = ref.digest ?? resolved.digest;
    const byDigest = digestReference(ref, digest);
    let found: Dependents | undefined;
    try {
      found = await dependentsOf(client, ref, { ...resolved, digest }, log, listing, halt.signal);
    } catch (err) {
      const off = await refused;
      throw off ? deletesOff(off, ref.registry, byDigest) : err;
    }
    // A registry that refuses every DELETE says so before any refusal of ours (a tag without
    // force): the delete could not happen either way. Its answer has long come by now.
    const off = await refused;
    if (off) throw deletesOff(off, ref.registry, byDigest);
    // The tag given is in the tag list too; a tag the list missed (read at the same time as the
    // tag's own lookup, it may predate the tag) is still named.
    const tags = found ? [...(ref.tag !== undefined && ref.digest === undefined && !found.tags.includes(ref.tag) ? [ref.tag] : []), ...found.tags] : [];
    const others = tags.filter((t) => ref.digest !== undefined || t !== ref.tag);
    const indexNote = found?.indexTags.length
      ? `it is a platform of the image index tagged ${listed(found.indexTags)}, which would be left listing a manifest that is gone (a pull of that platform fails)`
      : '';
    if (ref.digest === undefined && !opts.force) {
      const which = found ? (others.length ? ` (${listed(tags)})` : ` (only ${ref.tag} does)`) : '';
      // The user may have meant the tag alone, which untag removes, leaving the manifest.
      const untag = ` To remove tag ${ref.tag} alone: ${names.instead('untagImage()', formatReference(ref))}.`;
      throw new UsageError(
        `${formatReference(ref)} is a tag; deleting removes manifest ${digest} and every tag that points at it${which}` +
          `${indexNote ? `; ${indexNote}` : ''}.${untag} Delete by digest (${byDigest}) or add ${names.set('force', true)}`,
      );
    }
    if (ref.digest !== undefined && !opts.force && indexNote) {
      throw new UsageError(`${byDigest}: ${indexNote}. Delete the index first, or add ${names.set('force', true)} to delete it anyway`);
    }
    try {
      await client.deleteManifest(ref.repository, digest);
    } catch (err) {
      // The HEAD above found the manifest, so a 404 now means it went in between: almost always
      // this DELETE's own earlier attempt, which the registry carried out but whose answer was
      // lost (a front's 504, a reset connection), so the transport sent it again. That is a
      // delete done, not E_NOT_FOUND. A HEAD confirms it is gone first: a 404 that means
      // something else (a front that routes no DELETE) is not passed off as a delete.
      if (!(err instanceof NotFoundError) || (await client.headManifest(ref.repository, digest).catch(() => true)) !== undefined) throw err;
      log.info(`the DELETE of ${byDigest} was answered 404 and the manifest is gone: an earlier attempt whose answer was lost deleted it`);
    }
    // Said after the DELETE, so that a refusal stays the one line a failure prints.
    const from = ref.digest === undefined ? `, which tag ${ref.tag} pointed at` : '';
    if (!found) log.warn(`deleted ${byDigest}${from}: every tag pointing at this manifest is gone with it (not checked which)`);
    else if (others.length) log.warn(`deleted ${byDigest}${from}: ${others.length === 1 ? 'tag' : 'tags'} ${listed(others)} pointed at it too and ${others.length === 1 ? 'is' : 'are'} gone with it`);
    else if (ref.digest === undefined) log.warn(`deleted ${byDigest}${from}; no other tag pointed at it`);
    else log.info(`deleted ${byDigest}; no tag pointed at it`);
    if (indexNote) log.warn(`${byDigest} was deleted although ${indexNote}`);
    return {
      reference: byDigest,
      digest,
      ...(ref.digest === undefined ? { resolvedFrom: ref.tag } : {}),
      ...(found ? { otherTags: others, indexTags: found.indexTags } : {}),
    };
  }, 'tags');
}
