// The layer build's speed by gzip lanes: `npm run bench` prints these rows after the push table;
// `node scripts/bench.mjs --layer` prints only them (no registries, well under a minute on 2 cores).
//
// Input: the bench's app directory (makeAppDir) plus copies of it, ~60 MB of tar in ~680
// files: the same mix of binaries, js/json and css a push compresses. Each (lanes, run) is a fresh
// process (scripts/bench/layer-child.mjs) started the way the CLI starts itself: UV_THREADPOOL_SIZE
// = lanes + 1 (at least 4), so every lane has a thread. Rows are interleaved by round, like the
// push scenarios, because this machine's speed drifts. MB/s = tar bytes / time of hashLayer()
// (walk, tar, gzip, diffID and digest; no start-up); peak RSS is the whole process's.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeAppDir } from './fixtures.mjs';
import { measure } from './measure.mjs';

const CHILD = new URL('./layer-child.mjs', import.meta.url).pathname;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The lane counts to measure: 1, 2, 4 and every usable core, plus `extra`; sorted, no repeats. */
export function laneCounts(extra = []) {
  return [...new Set([1, 2, 4, availableParallelism(), ...extra])].sort((a, b) => a - b);
}

/**
 * The app directory and `copies` copies of it under `dir`/layer-app; returns its path. Real copies,
 * not hard links: a layer stores a hard-linked file once, so linked copies would add only headers.
 */
export function makeLayerInput(dir, repoRoot, copies = 3) {
  const root = join(dir, 'layer-app');
  const first = join(root, 'copy0');
  makeAppDir(first, repoRoot);
  for (let i = 1; i <= copies; i++) execFileSync('cp', ['-a', first, join(root, `copy${i}`)]);
  return root;
}

/**
 * Runs every lane count `runs` times (interleaved), plus the library default ("default" row), and
 * returns { rows, markdown, problems }. `dist`: the compiled regpush to measure.
 */
export async function layerBench({ dist, input, lanes, runs, log, timeoutMs = 120_000 }) {
  const lib = await import(pathToFileURL(join(dist, 'src', 'layer', 'index.js')).href);
  // The pool the CLI would start with for a lane count; an older build without poolSizeFor had libuv's 4.
  const poolFor = (n) => (typeof lib.poolSizeFor === 'function' ? lib.poolSizeFor(n) : 4);
  const defaultLanes = typeof lib.defaultLanes === 'function' ? lib.defaultLanes() : undefined;
  const settings = [
    ...lanes.map((n) => ({ id: String(n), lanes: n, pool: poolFor(n) })),
    { id: 'default', lanes: 'default', pool: defaultLanes ? poolFor(defaultLanes) : 4 },
    // The warm push's diffID pass: no gzip, one thread; its MB/s is also about where the main
    // thread (which reads, tars and hashes for every lane) stops keeping up as lanes are added.
    { id: 'diffid', lanes: 'diffid', pool: 4 },
  ];
  const results = Object.fromEntries(settings.map((s) => [s.id, []]));
  const problems = [];
  for (let round = 1; round <= runs; round++) {
    for (const s of settings) {
      const env = { ...process.env, UV_THREADPOOL_SIZE: String(s.pool) };
      const r = await measure(process.execPath, [CHILD, dist, input, String(s.lanes)], { env, timeoutMs });
      if (!r.ok) { problems.push(`${s.id} lanes: exit ${r.code}: ${r.stderr.trim().split('\n').at(-1)}`); continue; }
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
      const rec = { round, ms: out.ms, mbs: out.tarBytes / 1e6 / (out.ms / 1000), cpuMs: r.cpuMs, wallMs: r.wallMs, peakRss: r.peakRss, digest: out.digest, diffId: out.diffId, tarBytes: out.tarBytes, gzBytes: out.gzBytes };
      results[s.id].push(rec);
      log(`r${round} layer ${s.id.padStart(7)}  ${rec.mbs.toFixed(1).padStart(6)} MB/s  ${(out.ms / 1000).toFixed(2)} s  cpu ${((r.cpuMs ?? 0) / 1000).toFixed(2)} s  rss ${(r.peakRss / 1e6).toFixed(1)} MB`);
    }
  }
  const digests = new Set(Object.values(results).flat().map((r) => r.digest).filter(Boolean));
  const diffIds = new Set(Object.values(results).flat().map((r) => r.diffId));
  if (diffIds.size > 1) problems.push(`the diffID differed between runs: ${[...diffIds].join(', ')}`);
  if (digests.size > 1) problems.push(`the layer digest differed between lane counts: ${[...digests].join(', ')}`);
  const rows = settings.map((s) => {
    const rs = results[s.id];
    return {
      lanes: s.lanes, threadPool: s.pool, runs: rs.length,
      mbs: rs.length ? { median: median(rs.map((r) => r.mbs)), max: Math.max(...rs.map((r) => r.mbs)) } : undefined,
      cpuMs: rs.length ? median(rs.map((r) => r.cpuMs ?? 0)) : undefined,
      peakRss: rs.length ? Math.max(...rs.map((r) => r.peakRss)) : undefined,
      runsDetail: rs,
    };
  });
  const one = rows.find((r) => r.lanes === 1)?.mbs?.median;
  const cores = availableParallelism();
  const any = Object.values(results).flat().find((r) => r.gzBytes > 0);
  const label = (r) => r.lanes === 'diffid' ? 'diffID pass only (no gzip)' : r.lanes === 'default' ? `default (${defaultLanes ?? '?'})` : r.lanes === cores ? `${r.lanes} (all cores)` : String(r.lanes);
  const markdown = [
    `Layer build by gzip lanes (${any ? `${(any.tarBytes / 1e6).toFixed(1)} MB of tar → ${(any.gzBytes / 1e6).toFixed(1)} MB gzip` : 'no run'}, ${cores} usable cores; hashLayer() in a fresh process, thread pool = lanes + 1, at least 4; ${runs} interleaved rounds):`,
    '',
    '| lanes | thread pool | MB/s (median) | MB/s (best) | × 1 lane | CPU s (median) | peak RSS (max) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${label(r)} | ${r.threadPool} | ${r.mbs ? r.mbs.median.toFixed(1) : '–'} | ${r.mbs ? r.mbs.max.toFixed(1) : '–'} | ${r.mbs && one ? (r.mbs.median / one).toFixed(2) : '–'} | ${r.cpuMs !== undefined ? (r.cpuMs / 1000).toFixed(2) : '–'} | ${r.peakRss ? (r.peakRss / 1e6).toFixed(1) + ' MB' : '–'} |`),
    '',
    digests.size === 1 ? `Same digest at every lane count: ${[...digests][0]}.` : digests.size > 1 ? '**The digest differed between lane counts.**' : '',
    ...problems.map((p) => `Problem: ${p}`),
  ].join('\n');
  return { rows, markdown, problems, digest: digests.size === 1 ? [...digests][0] : null };
}
