/** The push operation's inputs and report, as the library exposes them. */
import type { ConfigChanges } from '../image/config.js';
import type { LayerSource } from '../layer/index.js';
import type { HttpStats } from '../http/stats.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connect.js';
import type { BlobEvents, BlobReport } from '../transfer/types.js';

/** Options of push(). */
export interface PushOptions extends ConnectionOptions {
  /** Base image reference, or "scratch". */
  from: string;
  /** Target reference (a tag; default "latest"), or several: each base blob is then read once for all. */
  to: string | string[];
  /** Extra tags pointing at the same digest. */
  tags?: string[];
  /** Directories (or files) put into the one new layer. Empty: config-only change. */
  app?: LayerSource[];
  /** "os/arch[/variant]" (default linux/amd64) or "all" to rebuild every platform of an index. */
  platform?: string;
  /** Config edits (entrypoint, cmd, env, ports, workdir, volumes, labels, user). */
  config?: ConfigChanges;
  /** Also record the base name/digest as labels (Docker v2 manifests have no annotations). */
  baseLabels?: boolean;
  /** Parallel blob transfers (default 4). */
  jobs?: number;
  /** gzip level of the new layer (default: the layer module's). */
  gzipLevel?: number;
  /** Blocks of the new layer gzipped at once (default: one per usable core, capped at the thread pool). Never changes the bytes. */
  gzipJobs?: number;
  /** Layer timestamp in seconds; default SOURCE_DATE_EPOCH from env, else 0. */
  mtime?: number;
  /** Owner of the new layer's files (default 0:0). */
  chown?: { uid: number; gid: number };
  /** Resolve, authenticate and plan, but write nothing to the target. */
  dryRun?: boolean;
  /** Force an upload method for the new layer (default: streamed PATCH, PUT as fallback). */
  layerUpload?: 'patch' | 'put' | 'chunked';
  logger?: Logger;
  /** Progress callbacks. */
  events?: BlobEvents & { phase?(name: string): void };
  retries?: number;
}

/** One platform image written by push(). */
export interface PushedPlatform {
  platform: string;
  digest: string;
  configDigest: string;
}

/** What push() wrote at one target. */
export interface PushTargetResult {
  reference: string;
  digest: string;
  mediaType: string;
  tags: string[];
  /** Tags that already pointed at this manifest (seen by the warm path), so were not written again. */
  tagsUnchanged?: string[];
  platforms: PushedPlatform[];
}

/** One target of a multi-target push, in the report. */
export interface PushTargetReport {
  reference: string;
  target: string;
  digest: string;
  tags: string[];
  ok: boolean;
  blobs: BlobReport[];
  error?: { code: string; message: string };
}

/** What push() did. */
export interface PushResult {
  /** "<target repo>@sha256:…" — the one line the CLI prints. */
  reference: string;
  digest: string;
  mediaType: string;
  /** Every tag written. */
  tags: string[];
  /** `mirror`: the registry mirror the base manifest was read from (absent: the registry itself). */
  base: { reference: string; digest: string; mirror?: string };
  platforms: PushedPlatform[];
  layer?: { digest: string; diffId: string; size: number; action: 'uploaded' | 'skipped' | 'reused' | 'planned'; method?: string };
  blobs: BlobReport[];
  /** Whole-transfer retries summed over blobs and the layer. */
  retries: number;
  dryRun: boolean;
  /** Milliseconds per phase. */
  timings: Record<string, number>;
  /** The config each platform gets (dry run shows it without writing). */
  configs?: unknown[];
  /** With several targets: each one's outcome (the top-level fields describe the first that succeeded). */
  targets?: PushTargetReport[];
  /** Requests, retries and registry rate-limit headers (Docker Hub's `ratelimit-remaining`) seen. */
  http?: HttpStats;
}
