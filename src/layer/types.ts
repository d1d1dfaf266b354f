/**
 * Public shapes of the layer builder. Kept apart from the code so the push pipeline and the CLI
 * can import the types without loading the layer code.
 */
import type { Logger } from '../log.js';
import type { OptionNames } from '../option-names.js';

/** One local directory (or single file) and the absolute path it lands at inside the image. */
export interface LayerSource {
  /** Local directory or regular file, e.g. `./publish`; a relative one is taken in the `cwd` option (push) or LayerOptions.cwd. */
  src: string;
  /** Absolute path inside the image, e.g. `/app`. For a file, a trailing `/` means "into this directory". */
  dest: string;
}

/** How to build the layer; every field but `sources` has a reproducible default. */
export interface LayerOptions {
  /** Everything that goes into the one new layer, in this order. */
  sources: LayerSource[];
  /**
   * Directory a relative `src` (and so its `.dockerignore`) is looked up in; default the process's
   * working directory when the options are resolved. push() passes its own `cwd` option.
   */
  cwd?: string;
  /** Seconds since the epoch written as every entry's mtime; default 0. SOURCE_DATE_EPOCH does not change it (it dates the config: push). */
  mtime?: number;
  /** Environment to read UV_THREADPOOL_SIZE from; the library never reads process.env itself. */
  env?: Record<string, string | undefined>;
  /**
   * Build the layer for a Windows image: every entry under `Files/` (the system drive), a `Hives/`
   * directory, and a security descriptor giving BUILTIN\Users access in each entry's pax records
   * (windows-layer.ts). Destinations are still written `/app`; symlinks are refused. Default false.
   */
  windows?: boolean;
  /**
   * Owner of everything copied in (default 0:0); when given (0:0 included), a Linux layer also writes each destination directory
   * with this owner, which it otherwise leaves out (walk.ts, WalkContext.dirs).
   */
  chown?: { uid: number; gid: number };
  /** gzip level 0–9; default DEFAULT_GZIP_LEVEL (see gzip.ts for the measurements behind it). */
  gzipLevel?: number;
  /** Block size of the block-parallel gzip, in bytes; default DEFAULT_BLOCK_SIZE (256 KiB). */
  blockSize?: number;
  /** `parallel` (default): independent gzip members per block on the thread pool; `single`: one zlib stream. */
  gzipMode?: 'parallel' | 'single';
  /**
   * Gzip lanes: blocks compressing at once in `parallel` mode (1–64; the CLI's `--gzip-jobs`).
   * Default: one per core the process may use (`os.availableParallelism()`) plus 2, at most 32.
   * Never more than the thread pool's threads (see `threadPoolSize`): a larger value is cut to it
   * with one warning. The lanes never change the layer's bytes.
   */
  gzipConcurrency?: number;
  /**
   * Threads in libuv's thread pool in this process, where zlib runs every lane. libuv fixes it at
   * first use from UV_THREADPOOL_SIZE (default 4), and Node cannot report it, so a host program that
   * wants N lanes sets UV_THREADPOOL_SIZE ≥ N + 1 before its first fs, dns, crypto or zlib call
   * (in practice: in the environment of the process, or first thing in its entry script) and passes
   * the value here or in `env`. Default: UV_THREADPOOL_SIZE from `env`, else 4.
   */
  threadPoolSize?: number;
  /** Cancels the walk and the stream with AbortedError. */
  signal?: AbortSignal;
  /**
   * Called with the tar bytes produced since the last call (before gzip). A host uses it to pace
   * its memory on local work: 50,000 small files make ~50 MB of tar but only a few MB of gzip,
   * so pacing on the uploaded bytes alone lets the heap grow (the CLI runs its GC pacing on both).
   */
  onTarBytes?: (n: number) => void;
  /**
   * Called with the diffID as soon as the tar has ended, while the last blocks are still being
   * compressed and sent: everything a config needs is known then, so a push can send it while the
   * layer's upload finishes. Called once per pass (a retried or second upload calls it again).
   */
  onDiffId?: (diffId: string) => void;
  /** Receives warnings about skipped entries (sockets, fifos, devices) and lanes cut to the thread pool; debug: the lanes chosen and why. */
  logger?: Logger;
  /**
   * The lines already logged about the lanes and the entries skipped (a fifo), shared by the
   * builds and walks of one operation: a push builds a layer up to twice per target, and walks its
   * sources up to four times, and says each once. Default: a set of this build's own (a second
   * push says them again).
   */
  said?: Set<string>;
  /**
   * What the caller's messages call its options (push's: the library's `gzipJobs` and `env`, the
   * CLI's `--gzip-jobs`), for the warning when `gzipConcurrency` is cut to the thread pool. Without
   * it the warning names the lanes alone.
   */
  names?: OptionNames;
}

/** What the layer is, known once its stream has ended. */
export interface LayerResult {
  /** `sha256:…` of the gzip bytes (the blob digest). */
  digest: string;
  /** `sha256:…` of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Bytes of gzip. */
  size: number;
  /** Bytes of tar. */
  uncompressedSize: number;
  /** Tar entries written (directories, files and symlinks). */
  entries: number;
}
