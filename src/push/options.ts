/** The push operation's inputs and report, as the library exposes them. */
import type { ConfigChanges } from '../image/config.js';
import type { LayerSource } from '../layer/index.js';
import type { HttpStats } from '../http/stats.js';
import type { Logger } from '../log.js';
import type { ConnectionOptions } from '../registry/connect.js';
import type { BlobEvents, BlobReport } from '../transfer/blobs.js';

/** Options of push(). */
export interface PushOptions extends ConnectionOptions {
  /** Base image reference, or "scratch". */
  from: string;
  /** Target reference (tag or digest-less name; default tag "latest"). */
  to: string;
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

/** What push() did. */
export interface PushResult {
  /** "<target repo>@sha256:…" — the one line the CLI prints. */
  reference: string;
  digest: string;
  mediaType: string;
  /** Every tag written. */
  tags: string[];
  base: { reference: string; digest: string };
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
  /** Requests, retries and registry rate-limit headers (Docker Hub's `ratelimit-remaining`) seen. */
  http?: HttpStats;
}
