#!/usr/bin/env node
/** The `regpush` executable: wires process streams and signals into main(). */
import { main } from './main.js';

const controller = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    signals++;
    // First signal: abort cleanly (cancel uploads, tag nothing). Second: leave at once.
    if (signals > 1) process.exit(130);
    controller.abort();
  });
}

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
