/** The CLI's contact with the outside world, passed in so tests can run the CLI in-process. */
import type { Readable, Writable } from 'node:stream';
import type { EarlySockets } from '../http/early-sockets.js';
import type { ProjectFileRead } from './project-file.js';

/** Streams and environment of one CLI run. */
export interface CliIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  stdin: Readable;
  env: Record<string, string | undefined>;
  /**
   * The run's working directory (default process.cwd()): where regpush.json is looked for, and what
   * every relative path is taken in — flags (--app, --layer, --config-file, --digest-file, TLS
   * files, the sync file) and env's path variables — here and in the library (its `cwd` option).
   */
  cwd?: string;
  /** Aborted on SIGINT/SIGTERM by the binary. */
  signal?: AbortSignal;
  /** Connections the binary opened to the registries in the arguments while the rest loaded (early-connect.ts). */
  earlySockets?: EarlySockets;
  /** regpush.json as the binary read it for its early connections (early-connect.ts): push takes it rather than read the file again. */
  projectFile?: ProjectFileRead;
  /**
   * The NODE_EXTRA_CA_CERTS this Node process was started with (the binary passes its own): Node's
   * default trust holds that file already, so the library adds it back only where a registry's own
   * CAs replace that trust (the `tls.nodeExtraCaCerts` option). Without it, a NODE_EXTRA_CA_CERTS in
   * `env` is trusted for every registry and https:// proxy by the library itself (an in-process run with its own env).
   */
  startupExtraCaCerts?: string;
}
