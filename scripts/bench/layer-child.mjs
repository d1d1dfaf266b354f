// One layer build for the bench's layer rows (scripts/bench/layer.mjs), in its own process so that
// each lane count gets a thread pool sized for it, as the CLI does.
//   node layer-child.mjs <dist> <dir> <lanes|default|diffid>
// Prints one JSON line: { ms, tarBytes, gzBytes, digest, lanes } — ms covers hashLayer() only (walk,
// tar, gzip, both hashes), not Node's start-up or module loading. `diffid`: computeDiffId() instead,
// the warm push's pass (walk, tar headers, SHA-256 of the tar; no gzip), all on the main thread.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, dir, lanesArg] = process.argv.slice(2);
const layer = await import(pathToFileURL(join(dist, 'src', 'layer', 'index.js')).href);
const opts = { sources: [{ src: dir, dest: '/app' }], env: process.env };
if (lanesArg !== 'default' && lanesArg !== 'diffid') opts.gzipConcurrency = Number(lanesArg);
const t0 = performance.now();
const r = lanesArg === 'diffid' ? await layer.computeDiffId(opts) : await layer.hashLayer(opts);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms, tarBytes: r.uncompressedSize, gzBytes: r.size ?? 0, digest: r.digest ?? null, diffId: r.diffId, lanes: lanesArg }) + '\n');
