#!/usr/bin/env node
// npm run bench — regpush against its peers and the physical limit (goals: docs/performance.md).
//
//   node scripts/bench.mjs [--runs N] [--warmup N] [--large] [--large-runs N] [--json-out FILE]
//                          [--only id,id] [--no-sync] [--no-split] [--port-base P] [--profile DIR] [--keep] [--timeout S] [--dist DIR]
//                          [--layer] [--layer-runs N] [--layer-lanes N,N]
//
// Starts real registries (scripts/registries.mjs, port base 18000 unless --port-base /
// REGPUSH_BENCH_PORT_BASE), generates the base image and the app directory in a temp dir
// (scripts/bench/fixtures.mjs), installs containerify into a temp folder, then runs every scenario
// (scripts/bench/scenarios.mjs) interleaved — round 1: A B C …, round 2: A B C … — measuring wall
// time, CPU, peak RSS of the process tree and bytes written to disk (scripts/bench/measure.mjs).
// Prints a markdown table, the performance goals with PASS/FAIL, and a JSON summary (stdout after
// the tables, or --json-out FILE). Then the layer build's MB/s at 1, 2, 4 and all cores
// (scripts/bench/layer.mjs); `--layer` runs only those rows, without registries.
// Stops what it started and removes its temp dir (unless --keep).
// Progress goes to stderr. Linux only (uses /proc and GNU time).

import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem, release } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './lib/test-env.mjs';
import { ensureBenchTools, installContainerify, primeAtime, reapStaleRuns, wipeStorage, writeCurlPipe } from './bench/env.mjs';
import { BASE_LAYERS, baseConfig, makeAppDir, makeBaseLayers, makeLargeAppDir, MT, pushImage, pushLargeBase } from './bench/fixtures.mjs';
import { bearerSource, fetchTokenInfo, Registry } from './bench/http.mjs';
import { killCurrent, measure } from './bench/measure.mjs';
import { goals, goalsTable, summarize, table } from './bench/report.mjs';
import { baseBytesMoved, clearSkopeoCache, largeScenarios, parseGzipLevel, reportTimings, scenarios, skopeoDataDir } from './bench/scenarios.mjs';
import { laneCounts, layerBench, makeLayerInput } from './bench/layer.mjs';
import { expandOnly, seedSync, seedSyncTargets, syncFixtureSummary, wantsSync, withSync } from './bench/sync.mjs';
import { seedSplit, splitTable, withSplit } from './bench/split-layers.mjs';
import { makeManyFiles, MANY_FILES } from './bench/many-files.mjs';

const CONTAINERIFY_VERSION = '4.1.0';

function usage(msg) {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write([
    'usage: node scripts/bench.mjs [options]',
    '  --runs N          interleaved rounds (default 5)',
    '  --warmup N        unrecorded rounds first (default 1)',
    '  --large           also the 1 GiB scenarios (1 GiB base layer, 1 GiB app file); --large-runs N (default 1)',
    '  --json-out FILE   write the JSON summary there (default: on stdout after the tables)',
    '  --only ID,ID      run only these scenarios (push-cold, push-warm, push-same, push-50k, copy-cold, skopeo-cold, sync-cold, skopeo-sync-cold, sync-rerun, skopeo-sync-rerun, push-onechange-1layer, push-onechange-split, curl-pipe, gzip6, gzip1, cfy-cold, cfy-warm, node-empty, regpush-version; --wan also: copy-same, copy-multi; "sync" = the four sync ones)',
    '  --no-sync         leave out the sync scenarios (12 images, regpush sync vs skopeo sync; included by default)',
    '  --no-split        leave out the one-file-change pushes (one layer vs --layer deps + --app code; included by default)',
    '  --profile DIR     one extra cold push under node --cpu-prof; prints where the main thread spends its time',
    '  --dist DIR        the compiled regpush to measure (default: dist/ of this repo; another build must resolve node_modules)',
    '  --port-base P     first registry port (default 18000 or REGPUSH_BENCH_PORT_BASE; uses P..P+5)',
    '  --timeout S       per-run limit in seconds (default 180)',
    '  --keep            keep the temp dir (fixtures, containerify, registry logs)',
    '  --serve           set everything up, print the commands of every scenario, and wait (Ctrl-C stops) — for profiling by hand',
    '  --layer           only the layer build rows: MB/s at 1, 2, 4 and all cores (no registries; quick)',
    '  --layer-runs N    interleaved rounds of the layer rows (default 3; 0 leaves them out of a full run)',
    '  --layer-lanes N,N more lane counts for the layer rows (e.g. 8,16 for the memory per lane)',
    '  --wan             only the WAN rows: every registry behind an emulated link (scripts/bench/wan.mjs)',
    '  --wan-profile P,P the link profiles of --wan (20ms, 80ms, 150ms; default all)',
    '  --wan-auth A,…    only these variants of --wan: anon, token (token service on another host), token-same (on the registry host); default all where run',
    '  --wan-log DIR     keep each regpush run\'s --debug output of --wan in DIR (one file per run)',
    '  --gzip-level N    run every regpush row with --gzip-level N, 1 to 9 (default: regpush\'s own level); the gzip floor row follows it',
    '',
  ].join('\n'));
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { runs: 5, warmup: 1, large: false, largeRuns: 1, jsonOut: undefined, only: undefined, keep: false, timeoutS: 180, profile: undefined, dist: join(REPO_ROOT, 'dist'),
    layerOnly: false, layerRuns: 3, layerLanes: [],
    portBase: Number(process.env.REGPUSH_BENCH_PORT_BASE || 18000) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    const num = () => { const n = Number(val()); if (!Number.isInteger(n) || n < 0) usage(`${a} needs a whole number`); return n; };
    if (a === '--runs') o.runs = Math.max(1, num());
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--large') o.large = true;
    else if (a === '--large-runs') { o.largeRuns = Math.max(1, num()); o.large = true; }
    else if (a === '--json-out') o.jsonOut = val();
    else if (a === '--only') o.only = expandOnly(val().split(','));
    else if (a === '--no-sync') o.sync = false;
    else if (a === '--no-split') o.split = false;
    else if (a === '--port-base') o.portBase = num();
    else if (a === '--timeout') o.timeoutS = Math.max(10, num());
    else if (a === '--profile') o.profile = val();
    else if (a === '--keep') o.keep = true;
    else if (a === '--serve') o.serve = true;
    else if (a === '--dist') o.dist = resolve(val());
    else if (a === '--layer') o.layerOnly = true;
    else if (a === '--layer-runs') o.layerRuns = num();
    else if (a === '--layer-lanes') o.layerLanes = val().split(',').map((x) => { const n = Number(x); if (!Number.isInteger(n) || n < 1 || n > 64) usage('--layer-lanes needs whole numbers from 1 to 64'); return n; });
    else if (a === '--wan') o.wan = true;
    else if (a === '--wan-profile') { o.wan = true; o.wanProfiles = val().split(','); }
    else if (a === '--wan-auth') { o.wan = true; o.wanAuth = val(); }
    else if (a === '--gzip-level') { const g = parseGzipLevel(val()); if (g.error) usage(g.error); o.gzipLevel = g.level; }
    else if (a === '--wan-log') { o.wanLog = resolve(val()); mkdirSync(o.wanLog, { recursive: true }); }
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

// Log lines wait while a command is measured: a write to a redirected stderr file would count as our disk bytes.
let holding = false;
let aborting = false;
const held = [];
const log = (m) => (holding ? held.push(m) : process.stderr.write(`bench: ${m}\n`));
const flush = () => { holding = false; for (const m of held.splice(0)) log(m); };

const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mbs = (b) => `${(b / 1e6).toFixed(1)} MB`;
const firstLine = (s) => s.split('\n').map((l) => l.trim()).filter(Boolean).filter((l) => !/^\s*at /.test(l)).slice(-3).join(' ⏎ ').slice(0, 300);

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') throw new Error('the bench needs Linux (/proc, GNU time)');
  const started = Date.now();
  if (opt.layerOnly) return layerOnly(opt, started);
  const tools = ensureBenchTools(log);
  const tmp = mkdtempSync('/tmp/regpush-bench-');
  const cleanup = new Cleanup(tmp, opt.keep);
  process.on('SIGINT', () => cleanup.abort('SIGINT'));
  process.on('SIGTERM', () => cleanup.abort('SIGTERM'));
  try {
    await bench(opt, tools, tmp, cleanup, started);
  } finally {
    await cleanup.run();
  }
}

class Cleanup {
  constructor(tmp, keep) { this.tmp = tmp; this.keep = keep; this.stopRegistries = undefined; this.done = false; }
  async run() {
    if (this.done) return;
    this.done = true;
    killCurrent();
    if (this.stopRegistries) { try { await this.stopRegistries(); } catch (e) { log(`stopping registries: ${e.message}`); } }
    if (this.keep) log(`kept ${this.tmp}`);
    else rmSync(this.tmp, { recursive: true, force: true });
  }
  async abort(sig) {
    aborting = true;
    flush();
    log(`${sig}: stopping`);
    await this.run();
    process.exit(130);
  }
}

/** --serve: prints a shell line per scenario (env included) and waits for Ctrl-C. */
async function serve(ctx, all, opt) {
  const q = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${String(a).replace(/'/g, "'\\''")}'`);
  for (const s of all.filter((x) => !opt.only || opt.only.includes(x.id))) {
    if (s.needs?.(ctx)) continue;
    const { cmd, args, env } = s.cmd(ctx, 'serve');
    const vars = Object.entries(env ?? {}).filter(([k, v]) => process.env[k] !== v).map(([k, v]) => `${k}=${q(v)}`);
    const prep = [s.cold ? `wipe ${ctx.cold.storageDir}/*` : '', s.before === clearSkopeoCache ? `rm -rf ${skopeoDataDir(ctx)} for an empty skopeo cache` : ''].filter(Boolean);
    process.stdout.write(`# ${s.id}${prep.length ? ` (first: ${prep.join('; ')})` : ''}\nenv ${vars.join(' ')} ${q(cmd)} ${args.map(q).join(' ')}\n`);
  }
  log('serving; Ctrl-C stops the registries');
  // A pending promise alone does not keep Node running; the timer does, until SIGINT/SIGTERM
  // (handled in main(): stop the registries, remove the temp dir, exit).
  setInterval(() => {}, 1 << 30);
  await new Promise(() => {});
}

/** The 1 GiB inputs (--large): a 1 GiB base layer streamed into the source registry, a 1 GiB app file. Returns an error text, or undefined. */
async function setupLarge(ctx, tmp, srcReg) {
  log('large: streaming a 1 GiB base layer into the source registry and writing a 1 GiB app file');
  const tl = Date.now();
  ctx.largeApp = join(tmp, 'large-app');
  try {
    const lb = await pushLargeBase(srcReg, ctx.large.repo, ctx.large.tag);
    await makeLargeAppDir(ctx.largeApp);
    primeAtime([ctx.largeApp]);
    log(`large: base layer ${mbs(lb.layer.size)}, app file 1 GiB (${sec(Date.now() - tl)})`);
    return undefined;
  } catch (e) {
    const err = `1 GiB inputs could not be made: ${firstLine(e.message)}`;
    log(err);
    return err;
  }
}

async function bench(opt, tools, tmp, cleanup, started) {
  const cli = join(opt.dist, 'cli', 'regpush.cjs'); // the bundle package.json's bin points at
  // ---- registries (own port base and state dir, so a test run elsewhere is never touched)
  process.env.REGPUSH_TEST_PORT_BASE = String(opt.portBase);
  process.env.REGPUSH_TEST_STATE = join(tmp, 'registries');
  const registries = await import('./registries.mjs');
  writeFileSync(join(tmp, 'bench.pid'), String(process.pid));
  await reapStaleRuns(opt.portBase, tmp, async (stateDir) => {
    process.env.REGPUSH_TEST_STATE = stateDir;
    try { await registries.stop({ quiet: true }); } finally { process.env.REGPUSH_TEST_STATE = join(tmp, 'registries'); }
  }, log);
  cleanup.stopRegistries = () => registries.stop({ quiet: true });

  const peers = join(tmp, 'peers');
  const cfyPromise = installContainerify(peers, CONTAINERIFY_VERSION, log).then(
    (r) => r,
    (e) => ({ error: `containerify install failed: ${firstLine(e.message)}` }),
  );
  const { state } = await registries.start({ seed: false });
  const R = state.registries;
  const ctx = {
    tmp, cli, tools,
    cliMissing: !existsSync(cli),
    src: { host: R.token.host, url: R.token.url, user: R.token.user, password: R.token.password, realm: R.token.realm, service: R.token.service },
    cold: { host: R.anon2.host, url: R.anon2.url, storageDir: R.anon2.storageDir },
    warm: { host: R.anon.host, url: R.anon.url, storageDir: R.anon.storageDir },
    base: { repo: 'bench/base', tag: '1' },
    large: { repo: 'bench/large', tag: '1' },
    dockerConfig: join(tmp, 'docker-config'),
    cfyTmp: join(tmp, 'containerify-tmp'),
    appParent: join(tmp, 'fixtures'),
    appName: 'app',
  };
  ctx.app = join(ctx.appParent, ctx.appName);
  for (const d of [ctx.dockerConfig, ctx.cfyTmp, ctx.appParent]) mkdirSync(d, { recursive: true });
  writeFileSync(join(tmp, 'empty.mjs'), '');

  // ---- gzip level regpush uses (the layer module's default), the floor row must match it
  ctx.gzipLevel = 6;
  try {
    const layer = await import(pathToFileURL(join(opt.dist, 'src', 'layer', 'index.js')).href);
    if (Number.isInteger(layer.DEFAULT_GZIP_LEVEL)) ctx.gzipLevel = layer.DEFAULT_GZIP_LEVEL;
  } catch (e) {
    log(`could not read DEFAULT_GZIP_LEVEL from dist/src/layer (${firstLine(e.message)}); assuming 6`);
  }
  // --gzip-level: every regpush row passes it, and the gzip floor row compresses at that level.
  if (opt.gzipLevel !== undefined) ctx.gzipLevel = ctx.gzipLevelFlag = opt.gzipLevel;

  // ---- fixtures
  const t0 = Date.now();
  const layers = await makeBaseLayers(join(tmp, 'base'), log);
  const app = makeAppDir(ctx.app, REPO_ROOT);
  log(`app dir: ${app.files} files, ${mbs(app.bytes)}`);
  // A token source, not one token: the 1 GiB inputs are pushed after every round (--large), long
  // after a token fetched now (300 s lifetime) has expired; it fetches a fresh one when needed.
  const srcReg = new Registry(ctx.src.url, bearerSource(() => fetchTokenInfo({ ...ctx.src, scopes: [`repository:${ctx.base.repo}:pull,push`, `repository:${ctx.large.repo}:pull,push`] })));
  const config = baseConfig(layers);
  const pushed = await pushImage(srcReg, ctx.base.repo, ctx.base.tag, layers, config);
  rmSync(join(tmp, 'base'), { recursive: true, force: true });
  const cfgBytes = Buffer.from(JSON.stringify(config));
  const { createHash } = await import('node:crypto');
  const cfgDigest = `sha256:${createHash('sha256').update(cfgBytes).digest('hex')}`;
  ctx.curlPipe = join(tmp, 'curl-pipe.sh');
  ctx.baseBlobs = [...layers.map((l) => ({ digest: l.digest, size: l.size })), { digest: cfgDigest, size: cfgBytes.length }];
  writeCurlPipe(ctx.curlPipe, { src: ctx.src, dst: ctx.cold, repo: ctx.base.repo, tag: ctx.base.tag, manifestType: MT.manifest, blobs: ctx.baseBlobs });
  const baseTotal = layers.reduce((a, l) => a + l.size, 0);
  log(`base ${ctx.src.host}/${ctx.base.repo}:${ctx.base.tag} ${pushed.digest}: ${layers.map((l) => mbs(l.size)).join(' + ')} = ${mbs(baseTotal)} (fixtures in ${sec(Date.now() - t0)})`);
  if (!opt.only || opt.only.includes('push-50k')) {
    const t1 = Date.now();
    try { ctx.manyFiles = makeManyFiles(join(tmp, 'many-files')); log(`many-files app: ${MANY_FILES} files (${sec(Date.now() - t1)})`); } catch (e) { ctx.manyFilesError = `50,000-file app could not be made: ${firstLine(e.message)}`; log(ctx.manyFilesError); }
  }
  if (wantsSync(opt)) {
    try { ctx.sync = await seedSync(ctx, layers, log); } catch (e) { ctx.syncBroken = `sync fixtures could not be made: ${firstLine(e.message)}`; log(ctx.syncBroken); }
  }

  // ---- containerify
  const cfy = await cfyPromise;
  if (cfy.error) { ctx.containerifyError = cfy.error; log(cfy.error); } else { ctx.containerify = cfy.cli; ctx.containerifyVersion = cfy.version; }

  // ---- atime: first reads after a write are charged as disk writes; take them now, unmeasured
  primeAtime([opt.dist, resolve(opt.dist, '..', 'package.json'), join(REPO_ROOT, 'node_modules'), join(REPO_ROOT, 'package.json'), ctx.app, join(tmp, 'empty.mjs'), ctx.curlPipe, peers, ...(ctx.manyFiles ? [ctx.manyFiles] : [])]);

  // ---- seed the warm targets (also tells whether push/copy work at all)
  const all = withSplit(withSync(scenarios(ctx), ctx, opt), ctx, opt);
  const byIdDef = Object.fromEntries(all.map((s) => [s.id, s]));
  const probe = async (s, why) => {
    if (s.needs?.(ctx)) return s.needs(ctx);
    const { cmd, args, env } = s.cmd(ctx, 'seed');
    if (s.cold) wipeStorage(ctx.cold.storageDir);
    s.before?.(ctx);
    const r = await measure(cmd, args, { env, timeoutMs: opt.timeoutS * 1000 });
    if (!r.ok) return `${why} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${firstLine(r.stderr || r.stdout)}`;
    return undefined;
  };
  if (ctx.cliMissing) ctx.pushBroken = ctx.copyBroken = `${cli} is missing (run npm run build)`;
  else {
    ctx.pushBroken = await probe(byIdDef['push-warm'], 'regpush push');
    if (ctx.pushBroken) log(`regpush push does not work yet; its rows are skipped: ${ctx.pushBroken}`);
    ctx.copyBroken = await probe(byIdDef['copy-cold'], 'regpush copy');
    if (ctx.copyBroken) log(`regpush copy does not work; its rows are skipped: ${ctx.copyBroken}`);
  }
  await seedSyncTargets(ctx, byIdDef, probe, log);
  await seedSplit(ctx, opt, byIdDef, probe, makeAppDir, REPO_ROOT, log);
  if (ctx.containerify) {
    const err = await probe(byIdDef['cfy-warm'], 'containerify');
    if (err) { ctx.containerifyError = err; ctx.containerify = undefined; log(err); }
  }

  if (opt.wan) return wanOnly(ctx, opt, R, state.tokenService, started);

  if (opt.serve) {
    if (opt.large) {
      const err = await setupLarge(ctx, tmp, srcReg);
      if (err) throw new Error(err);
    }
    return serve(ctx, opt.large ? [...all, ...largeScenarios(ctx)] : all, opt);
  }

  // ---- the rounds
  const chosen = all.filter((s) => !opt.only || opt.only.includes(s.id));
  for (const s of chosen) s.skipReason = s.needs?.(ctx);
  const results = Object.fromEntries(chosen.map((s) => [s.id, []]));
  const timeoutMs = opt.timeoutS * 1000;
  const watch = state.processes.map((p) => p.pid); // the registries and the token service
  const ncpu = cpus().length;
  const runOne = async (s, round, record) => {
    if (s.cold) wipeStorage(ctx.cold.storageDir);
    const { cmd, args, env } = s.cmd(ctx, round);
    s.before?.(ctx);
    holding = true;
    let r;
    try { r = await measure(cmd, args, { env, timeoutMs: Math.max(timeoutMs, s.minTimeoutMs ?? 0), watch }); } finally { if (!aborting) flush(); }
    if (aborting) return new Promise(() => {}); // the abort handler exits the process
    const rec = {
      round, ok: r.ok, code: r.code, timedOut: r.timedOut, wallMs: r.wallMs, cpuMs: r.cpuMs, peakRss: r.peakRss,
      maxRssSingle: r.maxRssSingle, treeRssPeak: r.treeRssPeak, processes: r.processes, diskWrite: r.diskWrite, diskCancelled: r.diskCancelled,
      registriesCpuMs: r.watchedCpuMs, foreignCpuMs: r.foreignCpuMs, stealMs: r.stealMs,
      otherLoad: r.foreignCpuMs / (r.wallMs * ncpu),
    };
    if (!r.ok) rec.error = `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${firstLine(r.stderr || r.stdout)}`;
    else rec.invalid = s.check(r, ctx);
    if (r.ok && s.runExtra) Object.assign(rec, s.runExtra(r, ctx));
    if (s.group === 'regpush' && r.ok) {
      rec.timings = reportTimings(r.stdout);
      if (s.id.startsWith('push') || s.id.startsWith('large-push')) rec.baseBytes = baseBytesMoved(r.stdout);
    }
    const flag = rec.error ? `  FAILED ${rec.error}` : rec.invalid ? `  INVALID ${rec.invalid}` : '';
    log(`${String(round).padEnd(4)} ${s.id.padEnd(16)} ${sec(r.wallMs).padStart(8)}  cpu ${sec(r.cpuMs ?? 0).padStart(8)}  reg ${sec(r.watchedCpuMs ?? 0).padStart(7)}  others ${(100 * rec.otherLoad).toFixed(0).padStart(3)}%  rss ${mbs(r.peakRss).padStart(9)}  disk ${String(r.diskWrite).padStart(10)} B${flag}`);
    if (record) results[s.id].push(rec);
    return rec;
  };
  const active = chosen.filter((s) => !s.skipReason);
  for (let w = 1; w <= opt.warmup; w++) {
    log(`warm-up round ${w} (not recorded)`);
    for (const s of active) await runOne(s, `w${w}`, false);
  }
  for (let round = 1; round <= opt.runs; round++) {
    log(`round ${round}/${opt.runs}`);
    for (const s of active) await runOne(s, `r${round}`, true);
  }

  // ---- profile of one cold push (optional)
  let profile;
  if (opt.profile && !ctx.pushBroken) profile = await profileColdPush(ctx, opt, byIdDef['push-cold']);

  // ---- 1 GiB scenarios
  let largeDefs = [];
  if (opt.large) {
    const setupError = await setupLarge(ctx, tmp, srcReg);
    largeDefs = largeScenarios(ctx);
    for (const s of largeDefs) { s.skipReason = setupError ?? (s.id.includes('copy') ? ctx.copyBroken : ctx.pushBroken); results[s.id] = []; }
    for (let round = 1; round <= opt.largeRuns; round++) {
      for (const s of largeDefs) if (!s.skipReason) await runOne(s, `l${round}`, true);
    }
    rmSync(ctx.largeApp, { recursive: true, force: true });
  }

  // ---- layer build by lanes
  let layer;
  if (opt.layerRuns > 0) layer = await runLayerRows(opt, tmp);

  // ---- report
  const sums = [...chosen, ...largeDefs].map((s) => summarize(s, results[s.id] ?? []));
  const byId = Object.fromEntries(sums.map((s) => [s.id, s]));
  const largeRan = opt.large && largeDefs.some((s) => !s.skipReason);
  // --large given but no 1 GiB row could run: the goal says why, not "run with --large"
  const largeSkip = opt.large && !largeRan ? largeDefs.find((s) => s.skipReason)?.skipReason ?? 'the 1 GiB rows were not run' : undefined;
  const gs = goals(byId, results, { gzipLevel: ctx.gzipLevel, large: largeRan, largeSkip });
  const machine = {
    cpus: cpus().length, model: cpus()[0]?.model, memGB: +(totalmem() / 2 ** 30).toFixed(1), kernel: release(), node: process.version,
    shaNi: /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8')),
    skopeo: spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout?.trim(),
    registry: spawnSync('docker-registry', ['--version'], { encoding: 'utf8' }).stdout?.trim(),
  };
  const regpushVersion = ctx.cliMissing ? undefined : spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).stdout?.trim();

  const md = [
    `## regpush bench — ${new Date().toISOString().slice(0, 19)}Z`,
    '',
    `${machine.cpus} × ${machine.model}, ${machine.memGB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${machine.registry ?? 'docker-registry'}; ${machine.skopeo ?? ''}; containerify ${ctx.containerifyVersion ?? 'n/a'}; regpush ${regpushVersion ?? 'n/a'}.`,
    `Base: ${layers.length} gzip layers ${layers.map((l) => mbs(l.size)).join(' + ')} = ${mbs(baseTotal)} (Docker v2). App: ${app.files} files, ${mbs(app.bytes)}. ` +
      `Interleaved rounds: ${opt.runs} (+${opt.warmup} warm-up). regpush gzip level: ${ctx.gzipLevel}. Peak RSS = whole process tree; disk = write_bytes of the tree (see scripts/bench/measure.mjs).`,
    ...(ctx.sync ? [`Sync: ${ctx.sync.images.length} images on 2 bases sharing a rootfs layer, ${mbs(ctx.sync.uniqueBytes)} of distinct blobs (${mbs(ctx.sync.sumBytes)} summed over the images); skopeo sync reads the same list from its own YAML.`] : []),
    '',
    table(sums),
    '',
    ...loadWarning(sums),
    goalsTable(gs),
    '',
    ...splitTable(sums, ctx),
  ];
  if (ctx.pushBroken) md.push(`regpush push did not run: ${ctx.pushBroken}`, '');
  if (ctx.copyBroken && ctx.copyBroken !== ctx.pushBroken) md.push(`regpush copy did not run: ${ctx.copyBroken}`, '');
  if (ctx.syncBroken) md.push(`regpush sync did not run: ${ctx.syncBroken}`, '');
  if (ctx.skopeoSyncBroken) md.push(`skopeo sync did not run: ${ctx.skopeoSyncBroken}`, '');
  if (profile) md.push(profile.markdown, '');
  if (layer) md.push(layer.markdown, '');
  const summary = {
    tool: 'regpush-bench', schema: 1, startedAt: new Date(started).toISOString(), durationS: Math.round((Date.now() - started) / 1000),
    machine, regpush: regpushVersion, containerify: ctx.containerifyVersion ?? null,
    options: { runs: opt.runs, warmup: opt.warmup, large: opt.large, largeRuns: opt.largeRuns, portBase: opt.portBase, only: opt.only ?? null },
    gzipLevel: ctx.gzipLevel,
    fixtures: {
      base: { reference: `${ctx.base.repo}:${ctx.base.tag}`, digest: pushed.digest, mediaType: MT.manifest, total: baseTotal,
        layers: layers.map((l, i) => ({ name: BASE_LAYERS[i].name, digest: l.digest, size: l.size, uncompressedSize: l.uncompressedSize, files: l.files })) },
      app,
      sync: syncFixtureSummary(ctx.sync),
    },
    problems: { push: ctx.pushBroken ?? null, copy: ctx.copyBroken ?? null, containerify: ctx.containerifyError ?? null, sync: ctx.syncBroken ?? ctx.skopeoSyncBroken ?? null },
    scenarios: sums.map((s) => ({ ...s, runs: results[s.id] ?? [] })),
    goals: gs.map((g) => ({ ...g, value: g.value ?? null, pass: g.pass ?? null, paired: g.paired ?? null, cpu: g.cpu ?? null })),
    profile: profile?.top ?? null,
    layer: layer ? { rows: layer.rows, digest: layer.digest, problems: layer.problems } : null,
  };
  process.stdout.write(md.join('\n') + '\n');
  if (opt.jsonOut) {
    writeFileSync(opt.jsonOut, JSON.stringify(summary, null, 2) + '\n');
    log(`JSON summary written to ${opt.jsonOut}`);
  } else {
    process.stdout.write('```json\n' + JSON.stringify(summary) + '\n```\n');
  }
  log(`done in ${sec(Date.now() - started)}`);
}

/** --wan: the WAN rows only (scripts/bench/wan.mjs), after the loopback set-up. */
async function wanOnly(ctx, opt, R, tokenService, started) {
  if (ctx.pushBroken || ctx.copyBroken) throw new Error(`regpush does not work: ${ctx.pushBroken ?? ctx.copyBroken}`);
  const { wanBench } = await import('./bench/wan.mjs');
  const wan = await wanBench({ ctx, opt, R, tokenService, log, blobs: ctx.baseBlobs });
  process.stdout.write(`## regpush WAN bench — ${new Date().toISOString().slice(0, 19)}Z\n\n${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; rounds: ${opt.runs} (+${opt.warmup} warm-up).\n\n${wan.markdown}\n`);
  const summary = { tool: 'regpush-bench', schema: 1, mode: 'wan', startedAt: new Date(started).toISOString(), durationS: Math.round((Date.now() - started) / 1000), wan: { startupMs: wan.startupMs, variants: wan.variants } };
  if (opt.jsonOut) writeFileSync(opt.jsonOut, JSON.stringify(summary, null, 2) + '\n');
  else process.stdout.write('```json\n' + JSON.stringify(summary) + '\n```\n');
  log(`done in ${sec(Date.now() - started)}`);
}

/** The layer rows (scripts/bench/layer.mjs) on an input made under `tmp`. */
async function runLayerRows(opt, tmp) {
  log('layer build by lanes: making the input');
  const input = makeLayerInput(tmp, REPO_ROOT);
  primeAtime([input]);
  return layerBench({ dist: opt.dist, input, lanes: laneCounts(opt.layerLanes), runs: Math.max(1, opt.layerRuns), log, timeoutMs: opt.timeoutS * 1000 });
}

/** --layer: only the layer rows, no registries and no peers. */
async function layerOnly(opt, started) {
  if (!existsSync('/usr/bin/time')) throw new Error('the bench needs GNU time (/usr/bin/time): apt-get install time');
  const tmp = mkdtempSync('/tmp/regpush-bench-');
  const cleanup = new Cleanup(tmp, opt.keep);
  process.on('SIGINT', () => cleanup.abort('SIGINT'));
  process.on('SIGTERM', () => cleanup.abort('SIGTERM'));
  try {
    const layer = await runLayerRows(opt, tmp);
    const machine = { cpus: cpus().length, usable: availableParallelism(), model: cpus()[0]?.model, node: process.version, shaNi: /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) };
    process.stdout.write(`## regpush layer bench — ${new Date().toISOString().slice(0, 19)}Z\n\n${machine.cpus} × ${machine.model} (${machine.usable} usable), Node ${machine.node}, SHA extensions: ${machine.shaNi ? 'yes' : 'no'}; ${opt.dist}.\n\n${layer.markdown}\n`);
    const summary = { tool: 'regpush-bench', schema: 1, mode: 'layer', startedAt: new Date(started).toISOString(), durationS: Math.round((Date.now() - started) / 1000), machine, layer: { rows: layer.rows, digest: layer.digest, problems: layer.problems } };
    if (opt.jsonOut) writeFileSync(opt.jsonOut, JSON.stringify(summary, null, 2) + '\n');
    else process.stdout.write('```json\n' + JSON.stringify(summary) + '\n```\n');
    if (layer.problems.length) process.exitCode = 1;
    log(`done in ${sec(Date.now() - started)}`);
  } finally {
    await cleanup.run();
  }
}

/** A warning when other processes on the machine used a noticeable share of the CPU during the runs. */
function loadWarning(sums) {
  const loaded = sums.filter((s) => (s.otherLoad?.median ?? 0) > 0.1);
  if (!loaded.length) return [];
  return [`**Warning:** other processes used ${loaded.map((s) => `${Math.round(100 * s.otherLoad.median)} % (${s.id})`).join(', ')} of the machine's CPU during these runs (median; see \`otherLoad\` in the JSON). Absolute times are inflated; the ratios of interleaved rounds are less affected.`, ''];
}

/** One extra cold push under `node --cpu-prof`; summarizes self time by function and by module. */
async function profileColdPush(ctx, opt, s) {
  mkdirSync(opt.profile, { recursive: true });
  wipeStorage(ctx.cold.storageDir);
  const { args, env } = s.cmd(ctx, 'prof');
  const r = await measure(process.execPath, ['--cpu-prof', '--cpu-prof-dir', opt.profile, ...args], { env, timeoutMs: opt.timeoutS * 1000 });
  if (!r.ok) { log(`profile run failed: ${firstLine(r.stderr)}`); return undefined; }
  const file = readdirSync(opt.profile).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(opt.profile, f)).sort().at(-1);
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const dt = new Map();
  for (let i = 0; i < prof.samples.length; i++) dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const byFn = new Map();
  const byMod = new Map();
  let total = 0;
  for (const n of prof.nodes) {
    const us = dt.get(n.id) ?? 0;
    total += us;
    const cf = n.callFrame;
    const url = (cf.url || '').replace(pathToFileURL(resolve(opt.dist, '..')).href + '/', '').replace(pathToFileURL(REPO_ROOT).href + '/', '').replace(/^file:\/\//, '');
    const fn = `${cf.functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-3).join('/')}:${cf.lineNumber + 1}` : ''}`.trim();
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const mod = !url ? `(${cf.functionName || 'native'})` : url.startsWith('node:') ? url : url.includes('node_modules/') ? `node_modules/${url.split('node_modules/')[1].split('/')[0]}` : url.split('/').slice(0, 3).join('/');
    byMod.set(mod, (byMod.get(mod) ?? 0) + us);
  }
  const top = (m, n) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => ({ name: k, ms: Math.round(us / 1000), pct: +(100 * us / total).toFixed(1) }));
  const fns = top(byFn, 15);
  const mods = top(byMod, 10);
  const markdown = [
    `Profile of one cold push (\`node --cpu-prof\`, ${sec(r.wallMs)} wall, ${Math.round(total / 1000)} ms sampled on the main thread; ${file}):`,
    '',
    '| self time, by function | ms | % |', '|---|---:|---:|', ...fns.map((f) => `| \`${f.name}\` | ${f.ms} | ${f.pct} |`),
    '',
    '| self time, by module | ms | % |', '|---|---:|---:|', ...mods.map((f) => `| \`${f.name}\` | ${f.ms} | ${f.pct} |`),
  ].join('\n');
  return { markdown, top: { functions: fns, modules: mods, file, timings: reportTimings(r.stdout) } };
}

main().catch((e) => {
  flush();
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
