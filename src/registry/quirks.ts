/**
 * Registry quirks, in one place: what public issue trackers report about registries regpush
 * cannot reach from CI, and the per-run memory of how each registry accepts uploads.
 * docs/registry-quirks.md explains every quirk regpush copes with, including those recognised
 * from a registry's answer rather than its host (which are not in this table's host entries).
 *
 * Upload methods (see src/transfer/upload.ts):
 *   put      POST → one PUT ?digest= carrying the whole blob (digest and length known up front)
 *   patch    POST → one streamed PATCH (no length) → PUT ?digest=
 *   chunked  POST → PATCH chunks with Content-Range (at least OCI-Chunk-Min-Length) → PUT ?digest=
 * A registry that refuses one gets the next; the refusal is remembered for the rest of the run,
 * so the other blobs of the run start with the method that works.
 */
import { isDockerHub } from '../ref/registry.js';
import type { ScopeAction } from '../auth/scope.js';
import { withoutPort } from '../ref/host-address.js';

/** How a blob is sent. */
export type UploadMethod = 'put' | 'patch' | 'chunked';

/** Default size of one PATCH chunk (GHCR refuses more than 4 MiB). */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** Smallest chunk we shrink to after a registry refuses a chunk as too large. */
export const MIN_CHUNK_SIZE = 64 * 1024;

/** One known behaviour: which registry, what it does, where regpush deals with it, and the source. */
export interface KnownQuirk {
  /** Registry as people name it. */
  registry: string;
  /** Hosts it applies to; absent when the behaviour is recognised by the answer, not the host. */
  host?: RegExp;
  /** What the registry does. */
  behaviour: string;
  /** Where regpush copes with it. */
  handledIn: string;
  /** Public issue(s) the fact comes from. */
  source: string;
  /** Upload methods to skip from the start on this host. */
  refuse?: UploadMethod[];
  /** Chunk size to use on this host (unless --chunk-size says otherwise). */
  chunkSize?: number;
  /** A 201 naming the blob's digest is not proof it can be read yet: HEAD every blob after its upload. */
  headAfterUpload?: boolean;
  /** The actions a token must carry to read and delete a manifest here, where they are not DELETE_ACTIONS. */
  deleteActions?: ScopeAction[];
}

const MiB = 1024 * 1024;

/** The table. Host-matched entries change what regpush does on that host (uploads, delete's token scope); the others document a run-time fallback. */
export const KNOWN_QUIRKS: readonly KnownQuirk[] = [
  {
    registry: 'GHCR',
    host: /^ghcr\.io$/,
    behaviour: 'PATCH chunks over 4 MiB are answered 416',
    handledIn: 'chunk size 4 MiB; chunked uploads halve the chunk on 413/416 (transfer/upload.ts)',
    source: 'oras-project/rust-oci-client#35',
    chunkSize: 4 * MiB,
  },
  {
    registry: 'Amazon ECR',
    host: /\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/,
    behaviour: 'PATCH answers 201; upload parts must be 5–10 MiB (at most 1000); a PATCH answer\'s Range stays at the first chunk\'s end while every chunk is stored',
    handledIn: '201 accepted in RegistryClient.patchUpload; a short Range fails nothing (the closing PUT\'s digest check decides); 8 MiB chunks; chunked is the last resort',
    source: 'aws/containers-roadmap#2831, crashappsec/chalk#682, dotnet/sdk#33019, google/go-containerregistry#1091',
    chunkSize: 8 * MiB,
  },
  {
    registry: 'Google Artifact Registry / GCR',
    host: /(^|\.)gcr\.io$|-docker\.pkg\.dev$/,
    behaviour: 'no chunked uploads',
    handledIn: 'chunked never tried on these hosts',
    source: 'dotnet/sdk-container-builds#287',
    refuse: ['chunked'],
  },
  {
    registry: 'Azure ACR',
    host: /\.azurecr\.(io|cn|us)$/,
    behaviour: 'strict Content-Range format on chunks ("<start>-<end>", no "bytes " prefix)',
    handledIn: 'RegistryClient.patchUpload always sends that form',
    // The .NET SDK's typed header sent `bytes 0-84521/*`, which ACR refused: "the Content-Range header format is invalid".
    source: 'dotnet/sdk-container-builds#258',
  },
  {
    registry: 'Aliyun ACR',
    host: /(^|\.)aliyuncs\.com$/,
    behaviour: 'has accepted a blob (201) that a manifest PUT right after did not find (MANIFEST_BLOB_UNKNOWN, "manifest invalid")',
    handledIn: 'every blob is HEADed after its upload on these hosts (TargetSet.confirm); elsewhere a manifest PUT answered MANIFEST_BLOB_UNKNOWN is retried once after HEADs',
    source: 'GoogleContainerTools/jib#2868, GoogleContainerTools/kaniko#3164',
    headAfterUpload: true,
  },
  {
    registry: 'Quay.io',
    host: /^quay\.io$/,
    behaviour: 'its token service answers 400 to a scope naming the `delete` action (it takes pull, push and * only), and a manifest DELETE needs `push`: Quay models deleting as writing',
    handledIn: 'delete asks for pull,push there (deleteScopeActions; manage/manage.ts)',
    source: 'quay/quay#6576 (review: delete is push by design), containers/image#487',
    deleteActions: ['pull', 'push'],
  },
  {
    registry: 'Artifactory',
    behaviour: 'historically requires PATCH uploads; refuses mounts',
    handledIn: 'a refused monolithic PUT falls back to streamed PATCH (transfer/upload.ts); a refused mount streams (transfer/blobs.ts)',
    source: 'containerd/containerd#3533',
  },
  {
    registry: 'any registry behind nginx (Harbor, Pulp, ingress-nginx)',
    behaviour:
      'a request body over client_max_body_size (1 MiB unless set; proxy-body-size on ingress-nginx) is answered 413 from its headers, unread, ' +
      'and the connection closed while the body is still being sent',
    handledIn:
      'the answer is read though the write failed (http/answer-while-sending.ts) and not retried; ' +
      'the blob goes in chunks smaller than the refused body where they can be (transfer/upload.ts), else the 413 is the error, naming the limit to raise',
    source: 'goharbor/harbor#3270, pulp/pulp-operator#330',
  },
  {
    registry: 'Nexus',
    behaviour: 'answers 400 instead of 401 to a request that needs credentials',
    handledIn: 'auth/middleware.ts treats a 400 carrying a WWW-Authenticate challenge like a 401',
    source: 'GoogleContainerTools/jib#2898',
  },
  {
    registry: 'Harbor / Docker Hub',
    behaviour: 'a mount the registry will not do is answered 401 (Harbor) or 400 (Docker Hub, foreign `from`)',
    handledIn: 'transfer/blobs.ts falls back to streaming',
    source: 'goharbor/harbor#17097, google/go-containerregistry#1741',
  },
  {
    registry: 'Docker Hub / ECR / ACR',
    behaviour: '429 with Retry-After under throttling, also on manifest PUT',
    handledIn: 'http/retry.ts honours Retry-After up to a cap; whole-blob retries keep it (RetryBudget)',
    source: 'containers/container-libs#42',
  },
  {
    registry: 'GHCR',
    behaviour: '429 TOOMANYREQUESTS with no Retry-After header; the wait is named in the error message (`retry-after: 985.86µs`)',
    handledIn: 'http/body-wait.ts reads it; http/retry.ts waits at least that long, and at least the backoff',
    source: 'dependabot/cli#380, chainguard-images/images#173',
  },
];

/**
 * The actions delete asks a token for (pull, to look the manifest and the tags up, and delete),
 * as distribution checks them since distribution/distribution#2121; other registries that need
 * others say so in KNOWN_QUIRKS (`deleteActions`).
 */
const DELETE_ACTIONS: readonly ScopeAction[] = ['pull', 'delete'];

/**
 * The actions a token needs to delete a manifest at `registry`: DELETE_ACTIONS, or what the
 * known-quirks table says of that host. Quay's token service refuses a request naming `delete`
 * outright (400), where the spec has a token service grant what it can of the actions asked for,
 * so asking for both is no way out.
 */
export function deleteScopeActions(registry: string): ScopeAction[] {
  return [...(knownQuirksFor(registry).find((q) => q.deleteActions)?.deleteActions ?? DELETE_ACTIONS)];
}

/** What one run has learned about one registry's uploads. */
export interface UploadQuirks {
  registry: string;
  /** Methods this registry refused (or is known to refuse); never tried again in this run. */
  refused: Set<UploadMethod>;
  /**
   * The smallest request body this registry (or a proxy in front of it) refused with 413 in this
   * run. A body size limit refuses every body of that size or more, whichever method carries it,
   * and none smaller for that reason: a blob of that size or more, or of a size not known before
   * it is sent, goes in chunks (wholeFits), while a smaller one (a config, a small layer) still
   * goes whole, one request, rather than as chunks.
   */
  tooLarge?: number;
  /** The method of the last successful upload. */
  working?: UploadMethod;
  /** Chunk size for chunked uploads (bytes). */
  chunkSize: number;
  /** Largest OCI-Chunk-Min-Length the registry announced in this run. */
  minChunk?: number;
  /** Known quirks matched by host (for logs). */
  known: KnownQuirk[];
}

/** Options that shape the quirks of a run. */
export interface QuirkOptions {
  /** --chunk-size: overrides the table's and the default chunk size. */
  chunkSize?: number;
}

/** Known quirks for a registry host ("ghcr.io", "123.dkr.ecr.eu-west-1.amazonaws.com"). */
export function knownQuirksFor(registry: string): KnownQuirk[] {
  const host = withoutPort(registry);
  return KNOWN_QUIRKS.filter((q) => q.host?.test(host));
}

/** True when a blob uploaded to `registry` must be HEADed before a manifest names it (a 201 is not enough there). */
export function headsAfterUpload(registry: string): boolean {
  return knownQuirksFor(registry).some((q) => q.headAfterUpload);
}

/**
 * What one run has learned about how each registry takes uploads. A run (push, copy, sync) makes
 * one and carries it on its transfer context: the memory dies with the run, and two runs never
 * share what they learned.
 */
export class UploadMemory {
  private readonly byRegistry = new Map<string, UploadQuirks>();
  constructor(private readonly opts: QuirkOptions = {}) {}

  /** The memory of `registry`, created from the known-quirks table on first use. */
  of(registry: string): UploadQuirks {
    let q = this.byRegistry.get(registry);
    if (!q) {
      const known = knownQuirksFor(registry);
      q = {
        registry,
        refused: new Set(known.flatMap((k) => k.refuse ?? [])),
        chunkSize: this.opts.chunkSize ?? known.find((k) => k.chunkSize)?.chunkSize ?? DEFAULT_CHUNK_SIZE,
        known,
      };
      this.byRegistry.set(registry, q);
    }
    return q;
  }
}

/**
 * The first method of `preferred` this registry has not refused, if any, for a body of `size`
 * bytes (undefined: not known before it is sent): a whole-body method (a monolithic PUT, a
 * streamed PATCH) only where the body fits under a 413 met in this run (wholeFits).
 */
export function pickUploadMethod(q: UploadQuirks, preferred: readonly UploadMethod[], size?: number): UploadMethod | undefined {
  return preferred.find((m) => !q.refused.has(m) && (m === 'chunked' || wholeFits(q, size)));
}

/**
 * True when a body of `size` bytes may go whole: any body where no 413 came in this run, else one
 * no larger than the chunks, which were cut under every refused size. The refused size is only an
 * upper bound of the limit (a 3 MB body refused says nothing of a 2 MB one under a 1 MB limit), so
 * a blob between the chunk size and it goes in chunks rather than meet a 413 of its own.
 */
export function wholeFits(q: UploadQuirks, size: number | undefined): boolean {
  return q.tooLarge === undefined || (size !== undefined && size < q.tooLarge && size <= q.chunkSize);
}

/** Chunk size for a session: the run's size, raised to the registry's announced minimum. */
export function chunkSizeFor(q: UploadQuirks, sessionMin?: number): number {
  return Math.max(q.chunkSize, sessionMin ?? 0, q.minChunk ?? 0);
}

/**
 * The registries that refuse every write (405 UNSUPPORTED), as the refusals name them: CNCF
 * distribution in proxy mode (`proxy: remoteurl:`) answers a push, a tag and a delete so, whatever
 * its storage.delete.enabled, and so does a mirror made read-only.
 */
export const READ_ONLY_REGISTRY = 'a pull-through cache or a read-only mirror';

/**
 * What turns on the deletes `registry` refused through the registry API (405 UNSUPPORTED), as
 * advice: GHCR and Docker Hub never take a manifest DELETE there and delete through their own web
 * UI and API instead (containers/skopeo#1880, docker/hub-feedback#2360); CNCF distribution's
 * operator enables them with storage.delete.enabled, except on a pull-through cache, which
 * answers the same 405 UNSUPPORTED with deletes enabled: both are named, as the answer cannot
 * tell them apart.
 */
export function deletesEnabledBy(registry: string): string {
  if (registry === 'ghcr.io') return 'GHCR takes no deletes through the registry API: delete package versions in GitHub\'s web UI or with the GitHub Packages REST API';
  if (isDockerHub(registry)) return 'Docker Hub takes no deletes through the registry API: delete tags in its web UI or with the Docker Hub API';
  return `${READ_ONLY_REGISTRY} answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage.delete.enabled`;
}
