// The sync scenario: a dozen services on two shared bases, mirrored with `regpush sync FILE` and
// with `skopeo sync --src yaml` from the same list, first run (target wiped) and re-run (nothing
// changed).
//
// Fixtures (in the source registry, `token`, next to bench/base:1):
//  - base A = the bench base's rootfs + deps layers, base B = its rootfs + certs layers (two images
//    of one distribution: they share the rootfs layer), mounted from bench/base, nothing re-read;
//  - sync-svc-01 … sync-svc-12, tag 1: base A (odd numbers) or base B (even) plus one app layer
//    of its own (~1 MB gzip, half incompressible), a config, a Docker v2 manifest.
// The repositories sit at the top level of the source registry because skopeo sync (without
// --scoped) keeps only the last path component of a source repository, while regpush keeps the
// whole path: with one-component names both tools write `<prefix>/sync-svc-NN:1`.
//
// Targets: cold = `anon2` under the prefix `bench-sync` (its storage is wiped before every cold run,
// like copy-cold / skopeo-cold); re-run = `anon` under `bench-sync-regpush` / `bench-sync-skopeo`,
// each written once by its own tool while the bench sets up (so a re-run finds what that tool
// wrote) and then again in every round, where nothing has changed.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { primeAtime } from './env.mjs';
import { manifestBytes, MT, pseudoRandom, tarHeader } from './fixtures.mjs';
import { fetchToken, http } from './http.mjs';
import { clearSkopeoCache, regpushEnv, skopeoEnv } from './scenarios.mjs';

export const SYNC_IDS = ['sync-cold', 'skopeo-sync-cold', 'sync-rerun', 'skopeo-sync-rerun'];
export const SYNC_IMAGES = 12;
const TAG = '1';
const EPOCH = 1577836800; // 2020-01-01T00:00:00Z, as in fixtures.mjs
const CREATED = new Date(EPOCH * 1000).toISOString().replace('.000Z', 'Z');

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const svc = (i) => `sync-svc-${String(i + 1).padStart(2, '0')}`;

/** `--only sync` is short for the four sync scenarios. */
export function expandOnly(ids) {
  return ids.flatMap((id) => (id === 'sync' ? SYNC_IDS : [id]));
}

/** Whether this bench run includes any sync scenario. */
export function wantsSync(opt) {
  return opt.only ? opt.only.some((id) => SYNC_IDS.includes(id)) : opt.sync !== false;
}

/** A service's own layer: a tar of app.bin (half pseudo-random, half text) and appsettings.json, gzip -6. */
function appLayer(i) {
  const name = svc(i);
  const size = Math.round((1.6 + 0.2 * (i % 4)) * 1e6);
  const bin = Buffer.concat([...pseudoRandom(`sync-${name}`, size, { half: true })]);
  const settings = Buffer.from(JSON.stringify({ Service: name, Logging: { LogLevel: { Default: 'Warning' } } }, null, 2));
  const pad = (n) => Buffer.alloc((512 - (n % 512)) % 512);
  const tar = Buffer.concat([
    tarHeader(`app/${name}/app.bin`, bin.length), bin, pad(bin.length),
    tarHeader(`app/${name}/appsettings.json`, settings.length), settings, pad(settings.length),
    Buffer.alloc(1024),
  ]);
  const gz = zlib.gzipSync(tar, { level: 6 });
  return { bytes: gz, digest: sha(gz), size: gz.length, diffId: sha(tar) };
}

function config(name, layers) {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: CREATED,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `SERVICE=${name}`], Entrypoint: ['/app/' + name + '/app.bin'], WorkingDir: `/app/${name}` },
    history: layers.map((l, k) => ({ created: CREATED, created_by: k < layers.length - 1 ? `base layer ${k}` : `COPY app/${name} /app/${name}` })),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
}

/**
 * Puts a blob into `repo`: mounted from `from` when given (the registry answers 201), else (or when
 * the mount is refused) uploaded from `bytes`, or read from `from` and uploaded.
 */
async function putBlob(url, auth, repo, digest, { bytes, from }) {
  const h = { authorization: auth };
  const head = await http('HEAD', `${url}/v2/${repo}/blobs/${digest}`, { headers: h });
  if (head.status === 200) return 'present';
  const q = from ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}` : '';
  const post = await http('POST', `${url}/v2/${repo}/blobs/uploads/${q}`, { headers: { ...h, 'content-length': '0' } });
  if (post.status === 201) return 'mounted';
  if (post.status !== 202) throw new Error(`POST upload to ${repo}: ${post.status} ${post.body.toString('utf8').slice(0, 200)}`);
  let body = bytes;
  if (!body) {
    const get = await http('GET', `${url}/v2/${from}/blobs/${digest}`, { headers: h });
    if (get.status !== 200) throw new Error(`GET ${from} blob ${digest}: ${get.status}`);
    body = get.body;
  }
  const loc = new URL(post.headers.location, url);
  loc.searchParams.set('digest', digest);
  const put = await http('PUT', loc.href, { headers: { ...h, 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body });
  if (put.status !== 201) throw new Error(`PUT blob ${digest} to ${repo}: ${put.status} ${put.body.toString('utf8').slice(0, 200)}`);
  return 'uploaded';
}

/**
 * Seeds the twelve services into the source registry and writes the three sync files. `baseLayers`
 * are the bench base's layers (fixtures.mjs makeBaseLayers: digest, size, diffId), already in
 * `ctx.src` under ctx.base.repo. Returns ctx.sync's value: files, image list, sizes.
 */
export async function seedSync(ctx, baseLayers, log) {
  const t0 = Date.now();
  const [rootfs, deps, certs] = baseLayers;
  const bases = { A: [rootfs, deps], B: [rootfs, certs] };
  const repos = Array.from({ length: SYNC_IMAGES }, (_, i) => svc(i));
  const token = await fetchToken({ ...ctx.src, scopes: [`repository:${ctx.base.repo}:pull`, ...repos.map((r) => `repository:${r}:pull,push`)] });
  const auth = `Bearer ${token}`;
  const unique = new Map(); // digest → size of every blob the twelve images hold
  const images = [];
  for (let i = 0; i < SYNC_IMAGES; i++) {
    const repo = repos[i];
    const base = i % 2 === 0 ? 'A' : 'B';
    const app = appLayer(i);
    const layers = [...bases[base], app];
    for (const l of bases[base]) await putBlob(ctx.src.url, auth, repo, l.digest, { from: ctx.base.repo });
    await putBlob(ctx.src.url, auth, repo, app.digest, { bytes: app.bytes });
    const cfg = config(repo, layers);
    await putBlob(ctx.src.url, auth, repo, sha(cfg), { bytes: cfg });
    const m = manifestBytes(cfg, layers);
    const put = await http('PUT', `${ctx.src.url}/v2/${repo}/manifests/${TAG}`, { headers: { authorization: auth, 'content-type': MT.manifest, 'content-length': String(m.length) }, body: m });
    if (put.status !== 201) throw new Error(`PUT manifest ${repo}:${TAG}: ${put.status} ${put.body.toString('utf8').slice(0, 200)}`);
    for (const l of layers) unique.set(l.digest, l.size);
    unique.set(sha(cfg), cfg.length);
    images.push({ repo, tag: TAG, base, digest: sha(m), appLayer: app.size, total: layers.reduce((a, l) => a + l.size, 0) + cfg.length });
  }
  const uniqueBytes = [...unique.values()].reduce((a, b) => a + b, 0);
  const sumBytes = images.reduce((a, im) => a + im.total, 0);

  // regpush: one file per target prefix (the prefix is in the file); fixed names, written once, so
  // no measured run reads a file written just before it (see primeAtime in env.mjs).
  const regpushFile = (name, prefix) => {
    const file = join(ctx.tmp, name);
    writeFileSync(file, [
      '# regpush sync: the bench\'s twelve services on two bases (scripts/bench/sync.mjs)',
      'defaults:',
      `  targets: [${prefix}]`,
      'images:',
      ...images.map((im) => `  - { source: ${ctx.src.host}/${im.repo}, tags: ["${im.tag}"] }`),
      '',
    ].join('\n'));
    return file;
  };
  // skopeo: the same list; the destination prefix is on its command line.
  const skopeoFile = join(ctx.tmp, 'skopeo-sync.yaml');
  writeFileSync(skopeoFile, [
    '# skopeo sync --src yaml: the bench\'s twelve services on two bases (scripts/bench/sync.mjs)',
    `'${ctx.src.host}':`,
    '  tls-verify: false',
    `  credentials: { username: '${ctx.src.user}', password: '${ctx.src.password}' }`,
    '  images:',
    ...images.map((im) => `    ${im.repo}: ["${im.tag}"]`),
    '',
  ].join('\n'));
  const out = {
    images, uniqueBytes, sumBytes,
    prefixes: {
      cold: `${ctx.cold.host}/bench-sync`,
      regpushRerun: `${ctx.warm.host}/bench-sync-regpush`,
      skopeoRerun: `${ctx.warm.host}/bench-sync-skopeo`,
    },
  };
  out.files = {
    cold: regpushFile('sync-cold.yaml', out.prefixes.cold),
    rerun: regpushFile('sync-rerun.yaml', out.prefixes.regpushRerun),
    skopeo: skopeoFile,
  };
  primeAtime(Object.values(out.files));
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  log(`sync: ${SYNC_IMAGES} images on 2 bases (A ${mb(rootfs.size + deps.size)}, B ${mb(rootfs.size + certs.size)}, sharing the rootfs layer) + one ~1 MB app layer each: ${mb(uniqueBytes)} of distinct blobs, ${mb(sumBytes)} summed over the images (${((Date.now() - t0) / 1000).toFixed(2)} s)`);
  return out;
}

/** The fixture description for the JSON summary and the header line. */
export function syncFixtureSummary(sync) {
  if (!sync) return null;
  return { images: sync.images.map(({ repo, tag, base, digest, appLayer, total }) => ({ repo, tag, base, digest, appLayer, total })), uniqueBytes: sync.uniqueBytes, sumBytes: sync.sumBytes };
}

function parseJson(s) {
  try { return JSON.parse(s); } catch { return undefined; }
}

/** Checks a regpush sync --json report against what the row claims. */
function checkSync(r, ctx, want) {
  const rep = parseJson(r.stdout);
  const t = rep?.totals;
  if (!t) return 'no JSON report on stdout';
  if (t.units !== SYNC_IMAGES || t.failed) return `expected ${SYNC_IMAGES} images, ${t.units} synced, ${t.failed} failed`;
  if (want === 'copied') {
    if (t.copied !== SYNC_IMAGES) return `expected every image copied, got ${t.copied} copied / ${t.skipped} skipped`;
    // the claim of the row: each distinct blob read once from the source, the rest mounted
    if (t.bytesRead > ctx.sync.uniqueBytes) return `read ${t.bytesRead} bytes from the source, more than the ${ctx.sync.uniqueBytes} distinct`;
  } else {
    if (t.skipped !== SYNC_IMAGES) return `expected every image skipped, got ${t.copied} copied / ${t.skipped} skipped`;
    if (t.bytesRead) return `re-run read ${t.bytesRead} bytes`;
  }
  return undefined;
}

/**
 * skopeo sync prints "Writing manifest to image destination" per image it copied, and (since
 * skopeo 1.9's containers/image) "Skipping: image already present at destination" per image whose
 * target tag already has the source's manifest digest.
 */
function checkSkopeo(r, want) {
  const out = r.stdout + r.stderr;
  const written = out.match(/Writing manifest to image destination/g)?.length ?? 0;
  const present = out.match(/image already present at destination/g)?.length ?? 0;
  if (want === 'copied' && written !== SYNC_IMAGES) return `skopeo wrote ${written} manifests, expected ${SYNC_IMAGES}`;
  if (want === 'skipped' && written + present !== SYNC_IMAGES) return `skopeo wrote ${written} and skipped ${present} images, expected ${SYNC_IMAGES}`;
  return undefined;
}

/** The four sync scenarios (same fields as scenarios.mjs). */
export function syncScenarios(ctx) {
  const node = process.execPath;
  const needs = (c) => c.syncBroken ?? (c.sync ? undefined : 'sync fixtures were not made');
  const skopeoNeeds = (c) => needs(c) ?? (c.tools.skopeo ? c.skopeoSyncBroken : 'skopeo not installed');
  const regpush = (file) => (c) => ({ cmd: node, args: [c.cli, 'sync', file(c), '--json', '--quiet'], env: regpushEnv(c) });
  const skopeo = (prefix) => (c) => ({
    cmd: 'skopeo',
    args: ['sync', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', c.sync.files.skopeo, prefix(c)],
    env: skopeoEnv(c),
  });
  return [
    {
      id: 'sync-cold', group: 'regpush', cold: true, needs,
      label: `regpush sync, ${SYNC_IMAGES} images on 2 bases, first run (target wiped)`,
      cmd: regpush((c) => c.sync.files.cold),
      check: (r, c) => checkSync(r, c, 'copied'),
    },
    {
      id: 'skopeo-sync-cold', group: 'peer', cold: true, needs: skopeoNeeds,
      label: `skopeo sync --src yaml, same ${SYNC_IMAGES} images, first run (target wiped)`,
      cmd: skopeo((c) => c.sync.prefixes.cold),
      before: clearSkopeoCache,
      check: (r) => checkSkopeo(r, 'copied'),
    },
    {
      id: 'sync-rerun', group: 'regpush', cold: false, needs,
      label: 'regpush sync, re-run (nothing changed)',
      cmd: regpush((c) => c.sync.files.rerun),
      check: (r, c) => checkSync(r, c, 'skipped'),
    },
    {
      id: 'skopeo-sync-rerun', group: 'peer', cold: false, needs: skopeoNeeds,
      label: 'skopeo sync --src yaml, re-run (nothing changed)',
      cmd: skopeo((c) => c.sync.prefixes.skopeoRerun),
      before: clearSkopeoCache,
      check: (r) => checkSkopeo(r, 'skipped'),
    },
  ];
}

/** The scenario list with the sync rows after skopeo-cold (or at the end), when this run wants them. */
export function withSync(list, ctx, opt) {
  if (!wantsSync(opt)) return list;
  const at = list.findIndex((s) => s.id === 'skopeo-cold');
  const out = [...list];
  out.splice(at < 0 ? out.length : at + 1, 0, ...syncScenarios(ctx));
  return out;
}

/**
 * Writes the re-run targets once with each tool (unmeasured), so that the first recorded re-run
 * already has nothing to do; sets ctx.syncBroken when regpush sync does not work.
 * `probe(scenario, what)` is bench.mjs's: runs the scenario's 'seed' command, returns an error text.
 */
export async function seedSyncTargets(ctx, byId, probe, log) {
  if (!ctx.sync) return;
  if (ctx.cliMissing) { ctx.syncBroken = `${ctx.cli} is missing (run npm run build)`; return; }
  ctx.syncBroken = await probe(byId['sync-rerun'], 'regpush sync');
  if (ctx.syncBroken) { log(`regpush sync does not work; its rows are skipped: ${ctx.syncBroken}`); return; }
  if (ctx.tools.skopeo) {
    const err = await probe(byId['skopeo-sync-rerun'], 'skopeo sync');
    if (err) { ctx.skopeoSyncBroken = err; log(err); }
  }
}

/** The sync goals (docs/performance.md): ratios via report.mjs's ratioGoal, plus the footprint of the sync rows. */
export function syncGoals(byId, ratioGoal, { rssBound, mb }) {
  ratioGoal('sync first run / skopeo sync first run', 'sync-cold', ['skopeo-sync-cold'], 0.6);
  ratioGoal('sync re-run / skopeo sync re-run', 'sync-rerun', ['skopeo-sync-rerun'], 0.2);
  const rows = ['sync-cold', 'sync-rerun'].map((id) => byId[id]).filter((s) => s && !s.skipped && s.runs);
  const rss = rows.length ? Math.max(...rows.map((s) => s.peakRss.max ?? 0)) : undefined;
  const disk = rows.length ? Math.max(...rows.map((s) => s.diskWrite.max ?? 0)) : undefined;
  return [
    { goal: 'peak RSS of every regpush sync run, MB', value: rss === undefined ? undefined : rss / 1e6, bound: rssBound / 1e6, pass: rss === undefined ? undefined : rss <= rssBound,
      detail: rows.map((s) => `${s.id} ${mb(s.peakRss.max)}`).join(', ') },
    { goal: 'bytes written to disk by any regpush sync run', value: disk, bound: 0, pass: disk === undefined ? undefined : disk === 0,
      detail: rows.filter((s) => s.diskWrite.max).map((s) => `${s.id} ${mb(s.diskWrite.max)}`).join(', ') },
  ];
}
