#!/usr/bin/env node
/** The `regpush` executable: wires process streams and signals into main(). */
import { setMaxListeners } from 'node:events';
import { main } from './main.js';

const controller = new AbortController();
// Every in-flight request and open response body listens on this signal (jobs × targets × 2 and
// more): Node's default of 10 would print a false "memory leak" warning in the middle of the output.
setMaxListeners(1000, controller.signal);
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
