/** The push operation's inputs and report, as the library exposes them. */
import type { ErrorCode } from '../errors.js';
import type { ConfigChanges } from '../image/config-changes.js';
import type { LayerSource } from '../layer/types.js';
import type { HttpStats } from '../http/stats-report.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import type { BlobEvents, BlobReport } from '../transfer/blob-report.js';

/** Options of push(). */
export interface PushOptions extends ConnectionOptions {
  /** Base image reference, or "scratch". */
  from: string;
  /** Target reference (a tag; default "latest"), or several: each base blob is then read once for all. */
  to: string | readonly string[];
  /** Extra tags pointing at the same digest. */
  tags?: readonly string[] | undefined;
  /** Directories (or files) put into one new layer, on top of the `layers`. Empty: no app layer. A relative `src` is taken in `cwd`. */
  app?: readonly LayerSource[] | undefined;
  /**
   * Further layers, each one its own, in this order after the base layers and below the app
   * layer: split what changes rarely (dependencies) from what changes often (the app), so a
   * re-push compresses and sends only the layers whose content changed. `platform` limits a layer
   * to that platform's image (per-architecture build outputs).
   */
  layers?: readonly PushLayerSpec[] | undefined;
  /** Output family: "oci" or "docker" (default: the base's; scratch: oci). Blobs are the same in both. */
  format?: 'oci' | 'docker' | undefined;
  /** OCI annotations for the manifest(s) and, for a multi-platform push, the index. Refused for Docker v2 output. */
  annotations?: Record<string, string> | undefined;
  /** "os/arch[/variant]" (default linux/amd64) or "all" to rebuild every platform of an index. */
  platform?: string | undefined;
  /** Config edits (entrypoint, cmd, env, ports, workdir, volumes, labels, user, health check, stop signal); checked before any request (checkConfigChanges). */
  config?: ConfigChanges | undefined;
  /** Also record the base name/digest as labels (Docker v2 manifests have no annotations). */
  baseLabels?: boolean | undefined;
  /** Parallel blob transfers (default 4). */
  jobs?: number | undefined;
  /** gzip level of the new layer (default: the layer module's). */
  gzipLevel?: number | undefined;
  /** Blocks of the new layer gzipped at once (default: one per usable core plus 2, capped at the thread pool). Never changes the bytes. */
  gzipJobs?: number | undefined;
  /**
   * Seconds every entry of the new layers is dated (the CLI's `--mtime`); default 0. Not the
   * config's time: `created` and the new history entries carry SOURCE_DATE_EPOCH from `env`, else
   * 0, so a per-commit SOURCE_DATE_EPOCH leaves the layers' digests alone. A value that changes
   * from one push to the next makes every layer new each time.
   */
  mtime?: number | undefined;
  /** Owner of the new layer's files (default 0:0). */
  chown?: { uid: number; gid: number } | undefined;
  /** Resolve, authenticate and plan, but write nothing to the target. */
  dryRun?: boolean | undefined;
  /**
   * Force an upload method for the new layer, with no fallback. Default: a streamed PATCH, then a
   * monolithic PUT, then chunked PATCHes for a registry that refuses the one before (a small layer
   * whose build has ended when its session opens goes as one PUT).
   */
  layerUpload?: 'patch' | 'put' | 'chunked' | undefined;
  logger?: Logger | undefined;
  /** Progress callbacks. */
  events?: PushEvents | undefined;
  retries?: number | undefined;
}

/** push()'s progress callbacks: the blob events copy() has too, and the push's phases and local work. */
export type PushEvents = BlobEvents & {
  phase?: ((name: string) => void) | undefined;
  /** Bytes of local work done (tar produced before gzip), for a host that paces its memory on it. */
  work?: ((bytes: number) => void) | undefined;
};

/**
 * One `--layer`: its sources, and optionally the one platform it belongs to, spelt as `--platform`
 * takes it ("linux/arm64", "windows(10.0.20348.1)/amd64": an OS version given must match exactly).
 */
export interface PushLayerSpec {
  sources: readonly LayerSource[];
  platform?: string | undefined;
}

/** One new layer in the report. */
export interface PushLayerReport {
  /** "layer 1", …, "app layer". */
  name: string;
  /** Where its sources land in the image. */
  dest: string[];
  /** Only with a platform qualifier. */
  platform?: string;
  digest: string;
  diffId: string;
  size: number;
  /** reused: found at the target tag, not compressed or sent; skipped: already in the repository; mounted; uploaded; planned (dry run). */
  action: 'uploaded' | 'skipped' | 'mounted' | 'reused' | 'planned';
  method?: string;
}

/** One platform image written by push() (in a dry run: planned, with digest and configDigest ''). */
export interface PushedPlatform {
  platform: string;
  digest: string;
  configDigest: string;
}

/** What push() wrote at one target (internal: the report's fields for it, PushResult's and PushTargetReport's). */
export interface PushTargetResult {
  reference: string;
  digest: string;
  mediaType: string;
  tags: string[];
  /** Tags that already pointed at this manifest (seen by the warm path), so were not written again. */
  tagsUnchanged?: string[];
  platforms: PushedPlatform[];
}

/** One target of a push whose `to` is an array, in the report (`targets`). */
export interface PushTargetReport {
  /**
   * `<registry>/<repository>@sha256:…` of what was written there; in a dry run
   * `<registry>/<repository>` (nothing written, no digest); '' for a target that failed.
   */
  reference: string;
  /** The target as given, normalised (`registry.example.com/app:1`). */
  target: string;
  /** The manifest written there; '' in a dry run and for a target that failed. */
  digest: string;
  tags: string[];
  /** Tags that already pointed at this manifest, so were not written again (absent when none did). */
  tagsUnchanged?: string[];
  /**
   * Dry run only: the plan could not check that the credentials may write to this target, and why
   * (a registry taking Basic credentials or none, a token that does not list its rights); absent
   * where it did (a target they may not write to fails, `E_DENIED`), or where nothing is to be written.
   */
  writeNotChecked?: string;
  /** Media type of the manifest written; absent in a dry run and for a target that failed. */
  mediaType?: string;
  /** The platform images written there; absent in a dry run and for a target that failed. */
  platforms?: PushedPlatform[];
  ok: boolean;
  blobs: BlobReport[];
  error?: { code: ErrorCode; message: string };
  /** The new layers at this target, as `layers` reports them for the first (each target gets them its own way: uploaded, mounted from another target, skipped, reused). */
  layers?: PushLayerReport[];
}

/** What push() did. */
export interface PushResult {
  /**
   * `<registry>/<repository>@sha256:…` of the manifest written (of the first target that
   * succeeded): the one line the CLI prints. In a dry run, where nothing is written and there is
   * no digest yet, `<registry>/<repository>` of the first target that could be planned. '' in the
   * result a push whose every target failed carries (`failureResult(err, 'push')`), as a failed
   * target's; so are `digest` and `mediaType`, and `platforms` is empty.
   */
  reference: string;
  /** The manifest's digest; '' in a dry run (and where every target failed). */
  digest: string;
  /** The manifest's media type; '' in a dry run (and where every target failed). */
  mediaType: string;
  /** Every tag written (in a dry run: to be written). */
  tags: string[];
  /** Tags that already pointed at this manifest (seen by the warm path), so were not written again; absent when none did. */
  tagsUnchanged?: string[];
  /** Dry run only: as PushTargetReport.writeNotChecked, for the first target that could be planned. */
  writeNotChecked?: string;
  /** `mirror`: the registry mirror the base manifest was read from (absent: the registry itself). */
  base: { reference: string; digest: string; mirror?: string };
  platforms: PushedPlatform[];
  /** The top new layer (the app layer when there is one): a shortcut to the last entry of `layers`, which lists them all. */
  layer?: { digest: string; diffId: string; size: number; action: 'uploaded' | 'skipped' | 'reused' | 'planned'; method?: string };
  /** Every new layer, bottom to top. */
  layers?: PushLayerReport[];
  /** Set when the output family differs from the base's (every manifest digest then differs from a same-family build). */
  format?: { from: 'oci' | 'docker'; to: 'oci' | 'docker' };
  blobs: BlobReport[];
  /** Whole-transfer retries summed over blobs and the layer. */
  retries: number;
  dryRun: boolean;
  /** Milliseconds per phase. */
  timings: Record<string, number>;
  /** The config each platform gets (dry run shows it without writing). */
  configs?: unknown[];
  /** Whenever `to` is an array, of one target too: each target's outcome (the top-level fields describe the first that succeeded). A string `to` gives none. */
  targets?: PushTargetReport[];
  /** Requests, retries and registry rate-limit headers (Docker Hub's `ratelimit-remaining`) seen. */
  http?: HttpStats;
}
