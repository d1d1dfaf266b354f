#!/usr/bin/env node
/** The `regpush` executable: wires process streams and signals into main(). */
import type { Readable } from 'node:stream';
import { connectEarly } from './early-connect.js';
import type { ProjectFileRead } from './project-file.js';
import { sizeThreadPool } from './threadpool.js';

const argv = process.argv.slice(2);
// First, before anything uses libuv's thread pool: it reads UV_THREADPOOL_SIZE once, at first use,
// and every gzip lane of the layer build runs on one of its threads (4 unless set). A value the
// user set is kept. This file is loaded synchronously (the bundle is CommonJS), so nothing has
// touched the pool yet.
sizeThreadPool(process.env, argv);

// A reader that stops early (`regpush tags REPO | head -1`) closes the pipe: the rest of the output
// has nowhere to go, which is not a failure of the command. Without a listener Node throws the
// EPIPE as an unhandled 'error' event: a stack trace and exit 1 after the work was done.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

/** No top-level await: the bundle (scripts/bundle.mjs) may be emitted as CommonJS. */
async function run(): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    // Fast path: printing the version should not load yargs, axios and the pipelines.
    const { VERSION } = await import('../version.js');
    process.stdout.write(VERSION + '\n');
    return;
  }
  // Before the pipelines load (~20–25 ms): the registries named in the arguments are connected to
  // meanwhile, and the transport takes those connections (early-connect.ts). A push's regpush.json
  // (its mirrors) is read for that, and main gets what was read: the file is read once.
  let projectFile: ProjectFileRead | undefined;
  const earlySockets = connectEarly(argv, process.env, process.cwd(), (read) => (projectFile = read));
  const { main } = await import('./main.js');
  const controller = new AbortController();
  // Node's default listener bound (10) is kept on this signal: the operations' requests and bodies
  // listen on signals derived from it (AbortSignal.any, which adds no listener here; unbounded
  // there, see operationSignal and TransferRun), and only the CLI's own waits (a stdin read, the
  // login prompt) listen here.
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      signals++;
      // First signal: abort cleanly (cancel uploads, tag nothing). Second: leave at once.
      if (signals > 1) process.exit(130);
      controller.abort();
    });
  }
  process.exitCode = await main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    // process.stdin is created on first access (a TTY or pipe handle); only --password-stdin needs it.
    get stdin(): Readable {
      return process.stdin;
    },
    env: process.env,
    // Node read it when the process started: its CAs are in the default trust already.
    startupExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS || undefined,
    signal: controller.signal,
    earlySockets,
    projectFile,
  });
  earlySockets?.close(); // the transport closes them too; this covers a command that never made one
}

void run();
