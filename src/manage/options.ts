/**
 * The registry commands' options and results (listTags(), listRepositories(), digestOf(),
 * tagImage(), untagImage(), deleteImage()), as the library exposes them: types only, so the published
 * declarations reach these and not manage.ts's code.
 */
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connection-options.js';

/** Options every registry command takes. */
export interface ManageOptions extends ConnectionOptions {
  logger?: Logger | undefined;
  retries?: number | undefined;
}

/** Options of listTags(). */
export interface ListTagsOptions extends ManageOptions {
  /** Tags asked for per page (`?n=`); the Link header leads to the next page. Default 1000. */
  pageSize?: number | undefined;
}

/** What listTags() found. */
export interface TagList {
  /** "host/repo", normalised (Docker Hub names get docker.io/library/). */
  repository: string;
  /** Every tag, in the registry's order, over all pages. */
  tags: string[];
}

/** What listRepositories() found. */
export interface RepositoryList {
  /** The registry's canonical host[:port] ("docker.io" for Docker Hub). */
  registry: string;
  /** Every repository name (without the host), in the registry's order, over all pages. */
  repositories: string[];
}

/** Options of digestOf(). */
export interface DigestOptions extends ManageOptions {
  /**
   * os/arch[/variant] (`os(osversion)/arch` also matches the OS version): the digest of that
   * platform's image — the child an index lists for it, or a single image whose config says it is
   * that platform — instead of the digest of what the reference names. Costs a GET of the
   * manifest (a HEAD cannot list an index's children), and for a single image its config.
   */
  platform?: string | undefined;
}

/** What digestOf() found. */
export interface DigestResult {
  /** The reference as normalised. */
  reference: string;
  /** sha256:… of the manifest (of the index, for a multi-platform image; with `platform`, of that platform's image). */
  digest: string;
  mediaType?: string;
  size?: number;
  /** With `platform`, when the reference names an index: the index's own digest. */
  indexDigest?: string;
  /** With `platform`, when the reference names an index: the platform of the child picked, as the index states it. */
  platform?: string;
  /** The registry mirror (host[:port][/path]) the reference was resolved through; absent when the registry itself answered. */
  mirror?: string;
}

/** A new tag tagImage() could not write, and why. */
export interface TagFailure {
  tag: string;
  error: { code: ErrorCode; message: string };
}

/**
 * What tagImage() did. When some new tags failed and others did not, tagImage() rejects with
 * E_PARTIAL carrying this in `details.result` (as copy() does with several targets).
 */
export interface TagImageResult {
  /** The source reference as normalised. */
  source: string;
  /** Digest of the manifest now under every tag of `tags`. */
  digest: string;
  mediaType: string;
  /** The new tags now pointing at the digest (written, or already there), in the order given (duplicates removed). */
  tags: string[];
  /** Tags among `tags` that already pointed at this digest, so nothing was written for them. */
  tagsUnchanged: string[];
  /** New tags that could not be written (empty unless tagImage() rejected with E_PARTIAL), in the order given. */
  tagsFailed: TagFailure[];
  /** "host/repo:tag" for each of `tags`. */
  references: string[];
}

/** Options of untagImage(): those of every registry command (it has none of its own). */
export type UntagOptions = ManageOptions;

/** What untagImage() removed. */
export interface UntagResult {
  /** "host/repo:tag" of the tag removed. */
  reference: string;
  /** The manifest the tag pointed at, which stays in the repository (with any other tag on it). */
  digest: string;
}

/** Options of deleteImage(). */
export interface DeleteOptions extends ManageOptions {
  /**
   * Allow a tag as the reference: it is resolved to its digest and that manifest is deleted, which
   * removes every other tag pointing at it too (named in the warning and in `otherTags`). Without
   * it, only a digest reference is accepted, and not one an index tagged in the repository lists.
   */
  force?: boolean | undefined;
}

/** What deleteImage() deleted. */
export interface DeleteResult {
  /** "host/repo@sha256:…" of the deleted manifest. */
  reference: string;
  digest: string;
  /** The tag the digest was resolved from (with force), if a tag was given. */
  resolvedFrom?: string;
  /**
   * The tags other than `resolvedFrom` that pointed at the manifest and went with it. Absent when
   * they could not be checked (more than DELETE_TAG_CHECK_LIMIT tags, or a tag list refused).
   */
  otherTags?: string[];
  /** Tags of image indexes in the repository that listed the manifest and now list one that is gone (with force); absent as otherTags is. */
  indexTags?: string[];
}
