/**
 * What the pipelines and the transfer engine need of a registry: one method per Distribution API
 * call they make, with the exact bytes of manifests and streams for blobs. HttpRegistryClient
 * (http-registry-client.ts) is the one implementation that talks HTTP; the engine and the pipelines depend on
 * this interface only, so a test or another transport can stand in for it.
 */
import type { Readable } from 'node:stream';
import type { WriteAccess } from '../auth/middleware.js';
import type { RequestBody } from '../http/types.js';
import type { Logger } from '../log.js';

/** A manifest as fetched: exact bytes, media type, digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  /** The mirror (host[:port][/path]) that served it, when it was read through one (registry/mirrors.ts). */
  mirror?: string;
}

/** One referrer the referrers API names (checked: `digest` is a valid digest). */
export interface ReferrerEntry {
  digest: string;
  mediaType: string;
  artifactType?: string;
}

/** What a HEAD told us about a manifest. */
export interface ManifestHead {
  digest?: string;
  mediaType?: string;
  size?: number;
  /** The mirror that answered, when read through one. */
  mirror?: string;
  /** The manifest itself, where the registry refused the HEAD and its GET answered instead (Manifests.head). */
  got?: FetchedManifest;
}

/** A mount's answer: done (`stated`: its 201 named the digest, which confirms it as an upload's would), or an upload session opened instead. */
export type MountResult = { mounted: true; stated?: boolean } | { mounted: false; uploadUrl: string };

/** An upload session opened with POST. */
export interface UploadSession {
  url: string;
  /** OCI-Chunk-Min-Length, when the registry announces one. */
  minChunk?: number;
}

/**
 * The key, in an upload request's AbortedError details, of the session URL (Location) the
 * registry answered after the interruption: the state the registry expects now, which the caller
 * must cancel with (the URL it held before the request no longer matches the bytes stored).
 */
export const UPLOAD_LOCATION = 'uploadLocation';

/**
 * An upload session a client cancels on its own: one its POST (or a mount answered 202) opened
 * while the operation was being interrupted, which the interruption let finish so that its URL is
 * known. The client tells of it at the interruption, before the answer, so that whoever waits for
 * the operation's sessions waits for this one too. `cancelled` resolves false when a session was
 * opened and the registry did not confirm its cancel (it may stay in the registry's upload area until
 * purged), true otherwise (cancelled, or none opened). Registry code cannot name it in the
 * operation's error itself: the run's record of sessions (transfer/sessions.ts) does.
 */
export interface InterruptedSession {
  registry: string;
  repo: string;
  cancelled: Promise<boolean>;
}

/** The session URL an interrupted upload request was answered with, if any (see UPLOAD_LOCATION). */
export function uploadLocationOf(err: unknown): string | undefined {
  const details = (err as { details?: Record<string, unknown> } | undefined)?.details;
  const v = details?.[UPLOAD_LOCATION];
  return typeof v === 'string' ? v : undefined;
}

/** A reader of a registry (RegistryClient.pullsReader): the host's record key and the credential's identity. */
export interface PullsReader {
  /** TransportStats.hostKey of the host, by the scheme its requests go by: given back to the stats as `{ key: host }`. */
  host: string;
  who: string;
}

/** One registry (host[:port]) as the engine and the pipelines use it. */
export interface RegistryClient {
  /** host[:port] as the references name it. */
  readonly registry: string;
  readonly logger: Logger;
  /** Resolves once the scheme (http/https) of a loopback registry is known; a no-op elsewhere. */
  ready(): Promise<void>;
  /** GET /v2/: reachability and early authentication. */
  ping(): Promise<void>;
  /**
   * What this client has seen of `repo`'s tags in this run (optional): "absent" while every tag it
   * looked up there was missing, "present" once one existed or was written, undefined before any.
   */
  tagsState?(repo: string): 'absent' | 'present' | undefined;
  /**
   * Opens up to `n` connections ahead of the requests (optional; nothing is sent on them).
   * `repo`: the repository the next reads are for, where they may go elsewhere than this client's
   * own repositories' (MirroredClient: mirrors are configured per namespace); absent, this client's.
   */
  warm?(n: number, repo?: string): void;
  /**
   * Fetches the token its requests will need, where the registry's token service is known already
   * or named by the scheme probe, which it waits for (and sends, where no client has yet) (optional; never fails).
   * `askChallenge`: where nothing names it yet, ask the registry first with a `GET /v2/` of its own
   * (once per registry and run: AuthMiddleware.prefetch), as a mirror's client is asked to.
   */
  prefetchAuth?(o?: { askChallenge?: boolean }): void;
  /** Calls `fn` once, when a tag is first seen absent where none was seen present (optional). */
  whenTagAbsent?(fn: () => void): void;
  /**
   * True when a manifest GET of `repo` here may be counted against a pull limit (optional; absent
   * counts as true): Docker Hub counts each GET, never a HEAD, and a registry that has sent
   * rate-limit headers in this run announces a limit of its own; read through mirrors, so does a
   * mirror of `repo` that has. Where it is false a copy reads a manifest with a GET at once rather
   * than HEAD first (one round trip less, and no pull spared to lose).
   */
  countsPulls?(repo: string): boolean;
  /**
   * True once countsPulls's answer for `repo` is known rather than presumed (optional; absent:
   * never known): Docker Hub by name, a registry that has sent rate-limit headers in this run, or
   * one that has answered a manifest request (a 2xx) without them. Until then countsPulls says false for a registry
   * that may yet turn out to count pulls (sync HEADs first then: ImageCopyOptions.headUntilKnown).
   */
  pullsKnown?(repo: string): boolean;
  /**
   * Whose pulls a manifest GET of `repo` here spends (optional; absent: one reader for the whole
   * registry): the account or address the registry named for this client's credential, else that
   * credential's identity (TransportStats.pullsOwner). Docker Hub counts per account or address, so
   * a sync keeps a used-up limit and its pull-limit gate's count per reader by it. Read through a
   * mirror, the first mirror's (MirroredClient: its reads spend the mirror's pulls), named with the
   * mirror (mirrorOwner) so that it is never taken for a reader of the registry itself.
   * `answeredBy`: the registry whose answer is in question (an error's `details.registry`: a 429
   * saying the pull limit is used up); read through mirrors, that mirror's reader or the
   * registry's own, not the first mirror's. Never rejects.
   */
  pullsOwner?(repo: string, answeredBy?: string): Promise<string>;
  /**
   * Who reads `repo` here, as the transport keeps its counts per reader (optional; absent: the
   * registry's last count, whoever it was sent to): the host's record key (TransportStats.hostKey)
   * and the identity of the credential the requests go with (TransportStats.readerCount). A
   * sync's pull-limit gate holds each reader's images by that reader's count. Never rejects;
   * undefined where the client cannot say. Read through a mirror, the first mirror's reader.
   */
  pullsReader?(repo: string): Promise<PullsReader | undefined>;
  /**
   * Whether this client's credentials may push to `repo`, told without writing (AuthMiddleware.writeAccess;
   * optional: a client without it is not asked, and says nothing).
   */
  writeAccess?(repo: string): Promise<WriteAccess>;
  /** HEAD a manifest by tag or digest; undefined when absent. A HEAD is not a pull on Docker Hub. */
  headManifest(repo: string, ref: string): Promise<ManifestHead | undefined>;
  /** GET a manifest's exact bytes. */
  getManifest(repo: string, ref: string): Promise<FetchedManifest>;
  /**
   * PUT a manifest under a tag or digest; resolves with its digest (checked against the registry's).
   * Interrupted before any of it went out (queued for a socket, its token or scheme still being
   * asked), its AbortedError has `details.unsent: true`: the registry cannot have taken it.
   */
  putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string>;
  /** DELETE a manifest by digest. */
  deleteManifest(repo: string, digest: string): Promise<void>;
  /** DELETE a tag, leaving its manifest; E_UNSUPPORTED where the registry deletes by digest only. */
  deleteTag(repo: string, tag: string): Promise<void>;
  /** HEAD a blob; its size when present (-1 when the answer states no length), undefined when not. */
  headBlob(repo: string, digest: string): Promise<number | undefined>;
  /** GET a blob as a stream from byte `start` (Range); `partial` false when the registry sent it whole; `mirror` when a mirror served it. */
  getBlob(repo: string, digest: string, start?: number): Promise<{ body: Readable; size?: number; partial: boolean; mirror?: string }>;
  /** GET a small blob (a config) whole, at most `cap` bytes, digest checked. */
  getBlobBytes(repo: string, digest: string, cap: number): Promise<Buffer>;
  /** Cross-repository mount; a registry that cannot mount may open an upload session instead. */
  mountBlob(repo: string, digest: string, fromRepo: string): Promise<MountResult>;
  /** POST: opens an upload session. */
  startUpload(repo: string): Promise<UploadSession>;
  /**
   * Monolithic upload: one PUT with the whole body. Resolves true when the registry answered 201
   * with a `Docker-Content-Digest` equal to `digest` (it says it stored exactly that blob). Never
   * sent again by the transport, a Buffer body included (HttpRequest.replayable): a failed one
   * starts its blob again on a new session.
   */
  putUpload(session: string, digest: string, size: number, body: RequestBody): Promise<boolean>;
  /**
   * One PATCH (streamed, or a chunk with `range`); resolves with the next session URL. After an
   * interruption it is ended or let finish rather than cut where it can be, and rejects with an
   * AbortedError whose uploadLocationOf() is the session URL the registry answered. Never sent
   * again by the transport, as putUpload. A body factory is called once.
   */
  patchUpload(session: string, body: RequestBody, range?: { start: number; end: number }): Promise<string>;
  /** Closes an upload with `PUT ?digest=`; true as for putUpload. */
  completeUpload(session: string, digest: string): Promise<boolean>;
  /**
   * Cancels an upload session (best effort, bounded in time, also after an abort); false when the
   * registry did not confirm it (the session then may stay until the registry purges stale uploads).
   */
  cancelUpload(session: string): Promise<boolean>;
  /**
   * Every tag of a repository, following pagination. Interrupted before any of its requests went
   * out (queued for a socket, its token or scheme still being asked), its AbortedError has
   * `details.unsent: true`, as putManifest's.
   */
  listTags(repo: string, pageSize?: number): Promise<string[]>;
  /** Every repository of the registry (its catalog), following pagination. */
  listRepositories(pageSize?: number): Promise<string[]>;
  /** The OCI referrers API's answer, or undefined when the registry has no such API. */
  referrers(repo: string, digest: string): Promise<{ manifests: ReferrerEntry[] } | undefined>;
  /**
   * Bytes this client read from `mirror` (the name a read answered with) turned out not to match
   * their digest where they landed: the mirror is not read from again in this run, so the next
   * read of the same content goes to the next mirror or the registry itself. True when that
   * changes where reads go (the mirror was still trusted); only a client that reads through
   * mirrors has this.
   */
  distrustMirror?(mirror: string, why: string): boolean;
  /**
   * True when reads no longer go to `mirror` in this run (it failed, mid-body too, or was
   * distrusted): a body from it that broke off is read on from elsewhere. Only a client that reads
   * through mirrors has this.
   */
  readsElsewhere?(mirror: string): boolean;
}
