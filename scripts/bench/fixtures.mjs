// The bench's inputs, generated in a temp dir, deterministic from run to run on one machine:
//
//  - an aspnet-like base image: four gzip layers of about 22, 17, 3 and 62 MB (compressed) made
//    with GNU tar + gzip -6 from real files of mixed compressibility (/usr/bin, /usr/lib,
//    /usr/share), Docker v2 schema 2 media types, a realistic config; pushed to the source registry;
//  - an app directory of ~15 MB in ~170 files: dll-like binaries (shared libraries renamed *.dll),
//    js and json from the repo's node_modules, generated css, App.deps.json & co.
//
// File selection: every regular file under a layer's roots is listed (sorted), and a file belongs
// to the layer when a hash of its path falls below the layer's fraction: a deterministic sample
// spread over the whole tree (binaries, text, already-compressed files alike). The fraction is
// corrected up to three times until the compressed layer is within ±12 % of its target, so other
// machines with other files still get layers of about the same sizes. Layers never share a file.

import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync, copyFileSync, createReadStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ustarHeader } from '../lib/tar-header.mjs';

export const MT = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

const EPOCH = 1577836800; // 2020-01-01T00:00:00Z, the mtime of every generated entry
const CREATED = new Date(EPOCH * 1000).toISOString().replace('.000Z', 'Z');
const MAX_FILE = 16 * 1024 * 1024;

const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
/** A stable number in [0, 1) from a path and a salt. */
const unit = (salt, p) => createHash('sha1').update(salt).update('\0').update(p).digest().readUInt32BE(0) / 2 ** 32;

const walked = new Map();

/** Every regular file (path, size) under the roots, sorted, deduplicated across symlinked roots. */
function listFiles(roots, { exclude = () => false } = {}) {
  const seen = new Set();
  const out = [];
  for (const r of roots) {
    if (!existsSync(r)) continue;
    const real = realpathSync(r);
    if (seen.has(real)) continue;
    seen.add(real);
    if (!walked.has(real)) walked.set(real, walkDir(real));
    for (const f of walked.get(real)) if (!exclude(f.path)) out.push(f);
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dedup = [];
  for (const f of out) if (dedup.at(-1)?.path !== f.path) dedup.push(f);
  return dedup;
}

function walkDir(root) {
  const out = [];
  const walk = (dir) => {
    let names;
    try { names = readdirSync(dir); } catch { return; }
    names.sort();
    for (const n of names) {
      const p = join(dir, n);
      if (p.includes('\n')) continue;
      let st;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0 && st.size <= MAX_FILE) out.push({ path: p, size: st.size });
    }
  };
  walk(root);
  return out;
}

/** The base image's layers: target compressed size, where the files come from, the history line. */
export const BASE_LAYERS = [
  { name: 'rootfs', target: 22e6, ratio: 0.38, roots: ['/usr/bin', '/usr/sbin', '/usr/libexec'], fallback: ['/usr/lib'], createdBy: '/bin/sh -c #(nop) ADD file:4fc310c0cb879c876c5c0f571af665a0d24d36cb9263e0f53b0cda2f7e4b1844 in / ' },
  { name: 'deps', target: 17e6, ratio: 0.28, roots: ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'], fallback: ['/usr/lib'], createdBy: '/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates libc6 libgcc1 libgssapi-krb5-2 libicu63 liblttng-ust0 libssl1.1 libstdc++6 zlib1g && rm -rf /var/lib/apt/lists/*' },
  { name: 'certs', target: 3e6, ratio: 0.46, roots: ['/usr/share'], fallback: ['/usr/lib'], createdBy: '/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*' },
  { name: 'runtime', target: 62e6, ratio: 0.33, roots: ['/usr/lib', '/usr/share', '/usr/local/lib', '/usr/bin'], createdBy: '/bin/sh -c curl -SL --output aspnetcore.tar.gz https://dotnetcli.blob.core.windows.net/dotnet/aspnetcore/Runtime/$ASPNETCORE_VERSION/aspnetcore-runtime-$ASPNETCORE_VERSION-linux-x64.tar.gz && mkdir -p /usr/share/dotnet && tar -zxf aspnetcore.tar.gz -C /usr/share/dotnet && rm aspnetcore.tar.gz && ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet' },
];

/**
 * Picks each layer's files for the given uncompressed budgets: the files in the order of a hash of
 * their path (a sample spread over the whole tree), a prefix up to the budget. Earlier layers win a
 * shared file.
 */
function select(candidates, budgets) {
  const taken = new Set();
  return BASE_LAYERS.map((l, i) => {
    const pool = candidates[i].filter((f) => !taken.has(f.path));
    const poolBytes = pool.reduce((a, f) => a + f.size, 0);
    const order = pool.map((f) => ({ f, k: unit(`layer-${l.name}`, f.path) })).sort((a, b) => a.k - b.k || (a.f.path < b.f.path ? -1 : 1));
    const files = [];
    let bytes = 0;
    for (const { f } of order) {
      if (bytes >= budgets[i]) break;
      files.push(f);
      bytes += f.size;
    }
    for (const f of files) taken.add(f.path);
    return { files, bytes, poolBytes };
  });
}

/** Relative tar entries (parent dirs first, then files), sorted. */
function tarList(files) {
  const entries = new Set();
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '');
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) entries.add(parts.slice(0, i).join('/') + '/');
    entries.add(rel);
  }
  return [...entries].sort().map((e) => e.replace(/\/$/, ''));
}

/** Runs `tar -T list | gzip -<level> -n` into `outFile`; resolves the digest, diffID and sizes. */
export function tarGzip(listFile, outFile, { cwd = '/', level = 6 } = {}) {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', cwd, '--no-recursion', '--verbatim-files-from', '-T', listFile, '-cf', '-',
      '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${EPOCH}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const gz = spawn('gzip', [`-${level}`, '-n', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const hu = createHash('sha256');
    const hc = createHash('sha256');
    let usize = 0;
    let csize = 0;
    let err = '';
    tar.stderr.on('data', (c) => (err += c));
    gz.stderr.on('data', (c) => (err += c));
    tar.stdout.on('data', (c) => {
      hu.update(c);
      usize += c.length;
      if (!gz.stdin.write(c)) tar.stdout.pause();
    });
    gz.stdin.on('drain', () => tar.stdout.resume());
    tar.stdout.on('end', () => gz.stdin.end());
    const out = createWriteStream(outFile);
    gz.stdout.on('data', (c) => { hc.update(c); csize += c.length; });
    gz.stdout.pipe(out);
    let tarCode;
    tar.on('close', (code) => (tarCode = code));
    tar.on('error', reject);
    gz.on('error', reject);
    out.on('error', reject);
    out.on('finish', () => {
      // GNU tar exits 1 when a file changed while it was read; the archive is still complete.
      if (tarCode !== 0 && tarCode !== 1) return reject(new Error(`tar failed (${tarCode}): ${err.slice(-500)}`));
      resolve({ digest: `sha256:${hc.digest('hex')}`, diffId: `sha256:${hu.digest('hex')}`, size: csize, uncompressedSize: usize });
    });
  });
}

async function inPairs(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all([0, 1].map(async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); } }));
  return out;
}

/** Generates the four base layers under `dir`; returns their descriptors and blob files. */
export async function makeBaseLayers(dir, log) {
  mkdirSync(dir, { recursive: true });
  const exclude = (p) => p.startsWith(dir) || /\/(\.cache|node_modules\/\.cache)\//.test(p);
  const candidates = BASE_LAYERS.map((l) => {
    const own = listFiles(l.roots, { exclude });
    // a small machine: widen the pool so the layer can still reach its size
    if (own.reduce((a, f) => a + f.size, 0) >= (3 * l.target) / l.ratio || !l.fallback) return own;
    return listFiles([...l.roots, ...l.fallback], { exclude });
  });
  let budgets = BASE_LAYERS.map((l) => l.target / l.ratio);
  let built = new Array(BASE_LAYERS.length);
  let lists = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const sel = select(candidates, budgets);
    const todo = [];
    sel.forEach((s, i) => {
      const list = tarList(s.files);
      const key = sha256hex(list.join('\n'));
      if (built[i]?.key === key) return; // unchanged selection: keep the built layer
      lists[i] = list;
      todo.push(i);
    });
    if (todo.length === 0) break;
    await inPairs(todo, async (i) => {
      const listFile = join(dir, `layer${i}.list`);
      writeFileSync(listFile, lists[i].join('\n') + '\n');
      const blob = join(dir, `layer${i}.tar.gz`);
      const r = await tarGzip(listFile, blob);
      built[i] = { ...r, file: blob, key: sha256hex(lists[i].join('\n')), files: sel[i].files.length, poolBytes: sel[i].poolBytes };
    });
    let redo = false;
    budgets = budgets.map((b, i) => {
      const t = BASE_LAYERS[i].target;
      const got = built[i].size;
      if (Math.abs(got - t) / t <= 0.12) return b;
      if (sel[i].bytes >= sel[i].poolBytes && got < t) return b; // nothing more to take
      redo = true;
      const ratio = got / Math.max(1, built[i].uncompressedSize);
      return t / ratio;
    });
    log(`base layers (attempt ${attempt}): ${built.map((b, i) => `${BASE_LAYERS[i].name} ${(b.size / 1e6).toFixed(1)} MB (${b.files} files, ${(b.uncompressedSize / 1e6).toFixed(0)} MB tar)`).join(', ')}`);
    if (!redo) break;
  }
  return built;
}

/** A realistic Docker v2 image config for the layers. */
export function baseConfig(layers) {
  const envs = [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'ASPNETCORE_URLS=http://+:80',
    'DOTNET_RUNNING_IN_CONTAINER=true',
    'ASPNETCORE_VERSION=2.2.8',
  ];
  const history = [];
  BASE_LAYERS.forEach((l, i) => {
    history.push({ created: CREATED, created_by: l.createdBy });
    if (i === 0) history.push({ created: CREATED, created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true });
    if (i === 2) {
      history.push({ created: CREATED, created_by: '/bin/sh -c #(nop)  ENV ASPNETCORE_URLS=http://+:80 DOTNET_RUNNING_IN_CONTAINER=true', empty_layer: true });
      history.push({ created: CREATED, created_by: '/bin/sh -c #(nop)  ENV ASPNETCORE_VERSION=2.2.8', empty_layer: true });
    }
  });
  const cfg = {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    Tty: false, OpenStdin: false, StdinOnce: false, Env: envs, Cmd: ['bash'], ArgsEscaped: true,
    Image: 'sha256:0d5e2a1b3d2c8f7b6e1e5a5e0c7a2c1f9c0b8e7d6a5f4e3d2c1b0a9f8e7d6c5b', Volumes: null, WorkingDir: '',
    Entrypoint: null, OnBuild: null, Labels: null,
  };
  return {
    architecture: 'amd64',
    config: cfg,
    container: '3e3f5c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d',
    container_config: { ...cfg, Cmd: ['/bin/sh', '-c', 'ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet'] },
    created: CREATED,
    docker_version: '18.06.1-ce',
    history,
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
}

/** Docker v2 schema 2 manifest bytes for a config blob and layers. */
export function manifestBytes(configBytes, layers) {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { mediaType: MT.config, size: configBytes.length, digest: `sha256:${sha256hex(configBytes)}` },
    layers: layers.map((l) => ({ mediaType: MT.layer, size: l.size, digest: l.digest })),
  }, null, 3));
}

/** Pushes layer files + config + manifest to `reg` as repo:tag; resolves the manifest digest. */
export async function pushImage(reg, repo, tag, layers, config) {
  const cfgBytes = Buffer.from(JSON.stringify(config));
  await inPairs(layers, async (l) => {
    if (l.file) await reg.putBlob(repo, l.digest, l.size, createReadStream(l.file));
  });
  await reg.putBlob(repo, `sha256:${sha256hex(cfgBytes)}`, cfgBytes.length, cfgBytes);
  const m = manifestBytes(cfgBytes, layers);
  const d = await reg.putManifest(repo, tag, m, MT.manifest);
  return { digest: d ?? `sha256:${sha256hex(m)}`, manifestSize: m.length, configSize: cfgBytes.length };
}

// ---------------------------------------------------------------- app directory

/** A small deterministic PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function css(seed, bytes) {
  const r = prng(seed);
  const props = ['color', 'background-color', 'margin', 'padding', 'border', 'font-size', 'line-height', 'display', 'width', 'height', 'flex', 'grid-template-columns', 'transition', 'box-shadow', 'border-radius', 'z-index'];
  const vals = () => {
    const k = Math.floor(r() * 5);
    if (k === 0) return `#${Math.floor(r() * 0xffffff).toString(16).padStart(6, '0')}`;
    if (k === 1) return `${Math.floor(r() * 64)}px ${Math.floor(r() * 32)}px`;
    if (k === 2) return `${(r() * 3).toFixed(2)}rem`;
    if (k === 3) return ['flex', 'block', 'inline-block', 'none', 'grid'][Math.floor(r() * 5)];
    return `rgba(${Math.floor(r() * 255)}, ${Math.floor(r() * 255)}, ${Math.floor(r() * 255)}, ${r().toFixed(2)})`;
  };
  let s = `/* site-${seed}.css generated for the regpush bench */\n`;
  while (s.length < bytes) {
    const cls = `.c-${Math.floor(r() * 5000).toString(36)}${r() < 0.3 ? `:hover` : ''}${r() < 0.2 ? ` > .e-${Math.floor(r() * 900).toString(36)}` : ''}`;
    s += `${cls} {\n`;
    const n = 1 + Math.floor(r() * 6);
    for (let i = 0; i < n; i++) s += `  ${props[Math.floor(r() * props.length)]}: ${vals()};\n`;
    s += '}\n';
  }
  return s;
}

/** Picks files by hash order until `maxFiles` or `maxBytes`; deterministic for a given file set. */
function pick(files, salt, maxFiles, maxBytes) {
  const sorted = files.map((f) => ({ ...f, k: unit(salt, f.path) })).sort((a, b) => a.k - b.k || (a.path < b.path ? -1 : 1));
  const out = [];
  let bytes = 0;
  for (const f of sorted) {
    if (out.length >= maxFiles || bytes >= maxBytes) break;
    if (bytes + f.size > maxBytes * 1.05) continue;
    out.push(f);
    bytes += f.size;
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Writes the ~15 MB, ~170-file app directory into `dir`; returns { files, bytes }. */
export function makeAppDir(dir, repoRoot) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const put = (rel, data) => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof data === 'string' || Buffer.isBuffer(data)) writeFileSync(p, data);
    else copyFileSync(data.path, p);
  };
  const used = new Set();
  const unique = (rel) => {
    let r = rel;
    for (let i = 2; used.has(r); i++) r = rel.replace(/(\.[^./]+)$/, `.${i}$1`);
    used.add(r);
    return r;
  };

  // dll-like binaries: shared libraries, 16 KiB – 1.5 MiB, ~10.5 MB in 75 files
  const libs = listFiles(['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'])
    .filter((f) => /\.so(\.\d+)*$/.test(f.path) && f.size >= 40 * 1024 && f.size <= 768 * 1024);
  const bins = pick(libs, 'app-bin', 75, 11e6);
  bins.forEach((f, i) => {
    const stem = basename(f.path).replace(/\.so(\.\d+)*$/, '').replace(/^lib/, '');
    const name = i === 0 ? 'App.dll' : `${stem.split(/[-_.]/).map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('.')}.dll`;
    put(unique(name), f);
  });

  // js and json from the repo's node_modules and Node's own (npm, corepack)
  const nm = listFiles([join(repoRoot, 'node_modules'), join(dirname(dirname(process.execPath)), 'lib', 'node_modules')]);
  const js = pick(nm.filter((f) => /\.(c|m)?js$/.test(f.path) && f.size >= 16 * 1024 && f.size <= 400 * 1024), 'app-js', 65, 3.3e6);
  for (const f of js) put(unique(`wwwroot/js/${basename(f.path)}`), f);
  const json = pick(nm.filter((f) => f.path.endsWith('.json') && f.size >= 512 && f.size <= 40 * 1024), 'app-json', 25, 0.4e6);
  for (const f of json) {
    const pkg = f.path.split('/node_modules/').at(-1).split('/').filter((s) => !s.startsWith('@'))[0] ?? 'pkg';
    put(unique(`config/${pkg}.${basename(f.path)}`), f);
  }
  // css, generated
  for (let i = 0; i < 10; i++) put(unique(`wwwroot/css/site-${i}.css`), css(1000 + i, 36_000 + i * 4_000));
  // the .NET publish metadata
  const deps = { runtimeTarget: { name: '.NETCoreApp,Version=v2.2' }, targets: { '.NETCoreApp,Version=v2.2': Object.fromEntries(bins.map((f, i) => [`Lib${i}/1.0.${i}`, { runtime: { [`${basename(f.path)}.dll`]: {} } }])) } };
  put('App.deps.json', JSON.stringify(deps, null, 2));
  put('App.runtimeconfig.json', JSON.stringify({ runtimeOptions: { tfm: 'netcoreapp2.2', framework: { name: 'Microsoft.AspNetCore.App', version: '2.2.0' }, configProperties: { 'System.GC.Server': true } } }, null, 2));
  put('appsettings.json', JSON.stringify({ Logging: { LogLevel: { Default: 'Warning' } }, AllowedHosts: '*' }, null, 2));

  // fixed mtimes, so nothing depends on when the bench ran
  let files = 0;
  let bytes = 0;
  const fix = (d) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) fix(p);
      else { files++; bytes += st.size; }
      utimesSync(p, EPOCH, EPOCH);
    }
  };
  fix(dir);
  utimesSync(dir, EPOCH, EPOCH);
  return { files, bytes };
}

// ---------------------------------------------------------------- the 1 GiB inputs (--large)

/** Deterministic bytes: AES-128-CTR keystream of `seed`; with `half`, every 64 KiB block is half keystream, half text. */
export function* pseudoRandom(seed, total, { half = false, chunk = 1 << 20 } = {}) {
  const c = createCipheriv('aes-128-ctr', createHash('sha256').update(seed).digest().subarray(0, 16), Buffer.alloc(16));
  const zero = Buffer.alloc(chunk);
  const text = Buffer.from('regpush bench filler: the quick brown fox jumps over the lazy dog 0123456789\n');
  let left = total;
  while (left > 0) {
    const n = Math.min(chunk, left);
    const b = c.update(zero.subarray(0, n));
    if (half) for (let i = 32 * 1024; i < n; i += 64 * 1024) for (let j = i; j < Math.min(i + 32 * 1024, n); j += text.length) text.copy(b, j, 0, Math.min(text.length, n - j, i + 32 * 1024 - j));
    left -= n;
    yield b;
  }
}

/** Writes a 1 GiB (by default) app file: half incompressible, half text. */
export async function makeLargeAppDir(dir, size = 1 << 30) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(join(dir, 'big.bin'));
  for (const b of pseudoRandom('app', size, { half: true })) if (!out.write(b)) await new Promise((r) => out.once('drain', r));
  await new Promise((res, rej) => out.end((e) => (e ? rej(e) : res())));
  utimesSync(join(dir, 'big.bin'), EPOCH, EPOCH);
  utimesSync(dir, EPOCH, EPOCH);
}

/** A ustar header for one regular file (mode 0644, owner 0:0, mtime EPOCH). */
export const tarHeader = (name, size) => ustarHeader(name, size, EPOCH);

/**
 * Streams a one-layer image with a `size`-byte incompressible file (gzip level 0 → a blob of about
 * `size` bytes) straight into the registry: nothing on disk, flat memory.
 */
export async function pushLargeBase(reg, repo, tag, size = 1 << 30) {
  const hu = createHash('sha256');
  const hc = createHash('sha256');
  let csize = 0;
  let usize = 0;
  function* tarStream() {
    yield tarHeader('opt/large/blob.bin', size);
    yield* pseudoRandom('base', size);
    const pad = (512 - (size % 512)) % 512;
    yield Buffer.alloc(pad + 1024);
  }
  const makeBody = () => {
    const gz = zlib.createGzip({ level: 0, chunkSize: 1 << 20 });
    const src = Readable.from(tarStream());
    src.on('data', (c) => { hu.update(c); usize += c.length; });
    const body = src.pipe(gz);
    body.on('data', (c) => { hc.update(c); csize += c.length; });
    return body;
  };
  const digest = await reg.streamBlob(repo, makeBody, () => ({ digest: `sha256:${hc.digest('hex')}` }));
  const layer = { digest, diffId: `sha256:${hu.digest('hex')}`, size: csize, uncompressedSize: usize };
  const config = baseConfig([layer, layer, layer, layer].slice(0, 1));
  config.history = [{ created: CREATED, created_by: '/bin/sh -c #(nop) ADD file:large in /opt/large ' }];
  const pushed = await pushImage(reg, repo, tag, [layer], config);
  return { ...pushed, layer };
}
