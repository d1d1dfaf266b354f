// The WAN scenario (`node scripts/bench.mjs --wan [--wan-profile 80ms]`): the push, copy and peer
// rows again, each registry behind an emulated wide-area link, with the network floor of each
// scenario, the requests and new connections the emulator saw, and regpush's critical path.
//
// The kernel of the bench machines has no netem, so the links are emulated in user space: a TCP
// proxy on 127.0.0.1 in front of each registry (and the token service), in this process.
//  - one-way delay: every chunk, in both directions, is delivered `rtt / 2` after it left the
//    link (chunks of one connection never overtake each other);
//  - handshake: a new connection's first bytes leave one RTT after the connect (TCP's SYN /
//    SYN-ACK): they take their place in the bandwidth FIFO only then, so a request body sent on a
//    new connection does not cross the link during its handshake; plain HTTP, so no TLS round
//    trips (a real registry over https adds one or two per connection);
//  - bandwidth: one FIFO per link and direction, shared by every connection of that link — a
//    token bucket without burst: a chunk leaves when the bytes before it have left, at `mbit`;
//  - no slow start, no loss, no window limit (the floor below assumes the same);
//  - a reader whose connection has more than 2 bandwidth-delay products (at least 1 MB) queued
//    is paused, so a fast sender cannot pour a whole blob into the emulator.
// The token registry's challenge names its token service's port; the source link rewrites that
// port (same length), so the token round trips cross the link too. Two topologies:
//  - `token`: the token service behind a port of its own on the source's link, as Docker Hub's
//    realm is another host (auth.docker.io): its first request pays a new connection's handshake;
//  - `token-same`: the token service behind the registry's own port, as GHCR, Artifact Registry,
//    ACR, Quay and Harbor serve their realm from the registry's host: a small HTTP router after the
//    link sends `/token` to the token service and everything else to the registry, so the token
//    GET can use a connection the client already has.
//
// Floor of a scenario = process start-up (median `regpush --version`, loopback) + k × RTT + B / bw,
// where B = the bytes that crossed the busiest link direction in that run (blob bodies dominate;
// headers are a few kB) and k = the round trips no client can avoid:
//   push cold, copy cold: 5 — connect, manifest GET, blob GET → PUT (request out, first byte
//     back, body forwarded, 201 back: 2 RTT), manifest PUT;
//   push same-registry: 4 — connect, manifest GET, app layer PUT (its POST overlaps), manifest PUT;
//   push warm: 3 — connect, source manifest GET, source config GET (the target manifest GET runs
//     alongside), nothing to write;
//   copy same-registry: 4 — connect, manifest GET, the blobs' mounts (all at once), manifest PUT;
//   copy of a multi-platform index (copy-multi, anonymous only): 7 — connect, index GET, the child
//     manifests' GETs (all at once), blob GET → PUT (2), the children's PUTs (all at once), index PUT;
//   + with the token-auth source: 3 when its token service is another host (`token`: the 401
//     challenge, a new connection to the token host, whose name the client learns only from the
//     401, and the token GET), 2 when it is the registry's host (`token-same`: the 401 and the
//     token GET, on a connection the client already has).
// Goals (the issue's, at 80 ms / 200 Mbit/s; wanGoals): cold push and copy ≤ 1.05 × the floor,
// same-registry push ≤ 1.2 × the floor, warm push ≤ 3 RTT + start-up + 50 ms, each computed
// without the token round trips (with this run's bytes); with the token source each limit is that
// anonymous limit + 2 RTT, in both topologies, as the issue defines it — so behind a token host
// elsewhere the limit leaves one RTT less over the floor than the anonymous one does (the warm
// push's, start-up + 5 RTT + 50 ms, is under its floor of start-up + 6 RTT once RTT > 50 ms).

import net from 'node:net';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { measure } from './measure.mjs';
import { wipeStorage, writeCurlPipe } from './env.mjs';
import { MT } from './fixtures.mjs';
import { regpushEnv, scenarios } from './scenarios.mjs';
import { withSplit } from './split-layers.mjs';
import { Registry } from './http.mjs';
import { MULTI_REPO, MULTI_TAG, multiArchScenario, seedMultiArch } from './multi-arch.mjs';

/** The link profiles: round-trip time and bandwidth per direction. */
export const WAN_PROFILES = [
  { id: '20ms', rttMs: 20, mbit: 1000 },
  { id: '80ms', rttMs: 80, mbit: 200 },
  { id: '150ms', rttMs: 150, mbit: 50 },
];

/** The source registry's authentication in each variant, as the tables name it. */
export const WAN_AUTHS = {
  anon: 'anonymous registries',
  token: 'token-auth source, token service on another host (as Docker Hub)',
  'token-same': "token-auth source, token service on the registry's host (as GHCR, ACR, Harbor)",
};

/** Round trips on the critical path of each scenario (anonymous registries), see the header. */
export const FLOOR_RTTS = { 'push-cold': 5, 'copy-cold': 5, 'push-same': 4, 'push-warm': 3, 'copy-same': 4, 'copy-multi': 7 };

/** Round trips the source's authentication adds to every floor, see the header. */
export const TOKEN_FLOOR_RTTS = { anon: 0, token: 3, 'token-same': 2 };

/** Round trips the issue allows a token-auth source over the anonymous limit (both topologies). */
export const TOKEN_GOAL_RTTS = 2;

/**
 * The network floor of row `id` in auth variant `auth`: start-up + k × RTT + bytes / bandwidth.
 * Returns { floorMs, rtts }, or {} for a row without a floor (or without a valid run's bytes).
 */
export function wanFloor(id, auth, profile, startupMs, bytes) {
  const k = FLOOR_RTTS[id];
  if (k === undefined || bytes === undefined) return {};
  const rtts = k + TOKEN_FLOOR_RTTS[auth];
  return { floorMs: startupMs + rtts * profile.rttMs + bytes / (profile.mbit * 1e6 / 8 / 1000), rtts };
}

const END = Symbol('end'); // a held end of stream (Link.pipe)
const METHOD = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/;

/** One emulated link: a delay and two bandwidth FIFOs, shared by the proxies on it. */
export class Link {
  constructor({ rttMs, mbit, name }) {
    this.name = name;
    this.oneWay = rttMs / 2;
    this.rtt = rttMs;
    this.bytesPerMs = (mbit * 1e6) / 8 / 1000;
    this.freeAt = { up: 0, down: 0 };
    this.highWater = Math.max(1 << 20, Math.round(2 * this.bytesPerMs * rttMs));
    this.proxies = [];
    this.reset();
  }

  reset() {
    this.stats = { connections: 0, requests: [], bytes: { up: 0, down: 0 } };
  }

  /**
   * When a chunk of `len` bytes handed over at `now` in `dir` arrives at the other end. It takes
   * the wire when the bytes queued before it have left, and not before `earliest`: a new
   * connection's request cannot occupy the bandwidth while its handshake is still under way.
   * (`now` is a parameter so that the scheduler can be tested without a clock.)
   */
  schedule(dir, len, earliest = 0, now = performance.now()) {
    const start = Math.max(now, this.freeAt[dir], earliest);
    this.freeAt[dir] = start + len / this.bytesPerMs;
    this.stats.bytes[dir] += len;
    return this.freeAt[dir] + this.oneWay;
  }

  /** A proxy on 127.0.0.1:`listenPort` (0: any) to 127.0.0.1:`targetPort`; `rewrite` [from, to] applies to response heads. */
  async proxy(listenPort, targetPort, rewrite) {
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.connection(client, targetPort, rewrite));
    const sockets = new Set();
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    await new Promise((res, rej) => { server.once('error', rej); server.listen(listenPort, '127.0.0.1', res); });
    const p = { port: server.address().port, close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); } };
    this.proxies.push(p);
    return p;
  }

  connection(client, targetPort, rewrite) {
    this.stats.connections++;
    const accepted = performance.now();
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    const kill = () => { client.destroy(); upstream.destroy(); };
    client.on('error', kill);
    upstream.on('error', kill);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // The client's bytes wait for the handshake: SYN out, SYN-ACK back, then the data leaves —
    // it enters the link's bandwidth FIFO one RTT after the accept, and arrives a one-way delay
    // after its last byte left.
    this.pipe(client, upstream, 'up', accepted + this.rtt);
    this.pipe(upstream, client, 'down', 0, rewrite);
  }

  /**
   * Moves `from` → `to` through the link's `dir` FIFO, in order; no byte leaves before `sendFrom`.
   * Bytes that come sooner (a request written right after connect) are held and handed to the
   * FIFO at `sendFrom`, in the order they came: booked at once for a slot after the handshake,
   * they would make the other connections' bytes of this direction, sent meanwhile, wait behind
   * an idle wire (a FIFO books slots in the order of booking).
   */
  pipe(from, to, dir, sendFrom, rewrite) {
    const queue = [];
    let queued = 0;
    let timer;
    let last = sendFrom + this.oneWay; // an end with no data before it still waits for the handshake
    let held = sendFrom > performance.now() ? [] : undefined;
    let closedWhileHeld = false;
    const drain = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length && queue[0].at <= now + 0.5) {
        const item = queue.shift();
        if (item.end) { to.end(); return; }
        queued -= item.chunk.length;
        if (!to.destroyed) to.write(item.chunk);
      }
      if (queued < this.highWater && from.isPaused()) from.resume();
      if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0].at - performance.now()));
    };
    const push = (item) => {
      queue.push(item);
      if (!timer) timer = setTimeout(drain, Math.max(0, item.at - performance.now()));
    };
    const send = (chunk) => {
      last = Math.max(last, this.schedule(dir, chunk.length, sendFrom));
      push({ at: last, chunk });
    };
    from.on('data', (chunk) => {
      if (dir === 'up') {
        const m = METHOD.exec(chunk.subarray(0, 2048).toString('latin1'));
        if (m) this.stats.requests.push(`${m[1]} ${m[2]}`);
      } else if (rewrite && chunk.subarray(0, 5).toString('latin1') === 'HTTP/') {
        chunk = replaceAll(chunk, rewrite[0], rewrite[1]);
      }
      queued += chunk.length;
      if (held) held.push(chunk);
      else send(chunk);
      if (queued >= this.highWater) from.pause();
    });
    if (held) {
      setTimeout(() => {
        const h = held;
        held = undefined;
        for (const c of h) if (c === END) push({ at: last, end: true }); else send(c);
        if (closedWhileHeld && !h.includes(END) && !queue.length && !to.destroyed) to.end();
      }, sendFrom - performance.now());
    }
    from.on('end', () => (held ? held.push(END) : push({ at: last, end: true })));
    from.on('close', () => {
      if (held) closedWhileHeld = true;
      else if (!queue.length && !to.destroyed) to.end();
    });
  }

  async close() {
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}

/**
 * An HTTP server on 127.0.0.1 that sends `/token…` to the token service and every other request to
 * the registry, over keep-alive connections: the token-same topology's one origin for both. It
 * sits after the link, so it adds no emulated delay, only a loopback hop.
 */
async function pathRouter(registryPort, tokenPort) {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const port = req.url.startsWith('/token') ? tokenPort : registryPort;
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode, r.rawHeaders);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.on('error', () => up.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((res, rej) => { server.once('error', rej); server.listen(0, '127.0.0.1', res); });
  return {
    port: server.address().port,
    close: () => { server.closeAllConnections(); agent.destroy(); return new Promise((r) => server.close(r)); },
  };
}

function replaceAll(buf, from, to) {
  let i = buf.indexOf(from);
  if (i < 0) return buf;
  const out = Buffer.from(buf);
  while (i >= 0) { to.copy(out, i); i = out.indexOf(from, i + to.length); }
  return out;
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * regpush's `--debug` request lines (`debug: <end> ms: http METHOD url → status (<dur> ms)`) →
 * the critical path: from the request that ended last, back through the latest request that had
 * ended when it started. Returns { requests, ms, chain: ['GET manifests', …] }.
 */
export function criticalPath(stderr) {
  const reqs = [];
  for (const line of stderr.split('\n')) {
    const m = /debug: (\d+) ms: http (\w+) (\S+) → .*\((\d+) ms\)\s*$/.exec(line);
    if (!m) continue;
    const end = Number(m[1]);
    const dur = Number(m[4]);
    const path = m[3].replace(/^https?:\/\/[^/]+/, '');
    const what = path === '/v2/' ? '/v2/' : /\/token\b/.test(path) ? 'token' : /\/manifests\//.test(path) ? 'manifest' : /\/blobs\/uploads\//.test(path) ? 'upload' : /\/blobs\//.test(path) ? 'blob' : path.split('?')[0];
    reqs.push({ start: end - dur, end, dur, label: `${m[2]} ${what}` });
  }
  if (!reqs.length) return undefined;
  let cur = reqs.reduce((a, b) => (b.end > a.end ? b : a));
  const chain = [cur];
  for (;;) {
    const before = reqs.filter((r) => r.end <= cur.start + 1 && r !== cur);
    if (!before.length) break;
    cur = before.reduce((a, b) => (b.end > a.end ? b : a));
    chain.unshift(cur);
  }
  return { requests: reqs.length, ms: chain.reduce((a, r) => a + r.dur, 0), first: chain[0].start, last: chain.at(-1).end, chain: chain.map((r) => r.label), chainMs: chain.map((r) => r.dur) };
}

/** The row ids the WAN scenario runs, in round order. */
const ROWS = ['push-cold', 'push-warm', 'push-same', 'push-onechange-split', 'copy-cold', 'copy-same', 'copy-multi', 'skopeo-cold', 'curl-pipe', 'cfy-cold'];

/**
 * Runs the WAN rows for each chosen profile. `ctx` is the loopback bench's (registries, fixtures,
 * warm target seeded); `R` the registries of state.json; `reg` = { src, anonSrc } fixtures info.
 */
export async function wanBench({ ctx, opt, R, tokenService, log, blobs }) {
  const profiles = opt.wanProfiles?.length ? WAN_PROFILES.filter((p) => opt.wanProfiles.includes(p.id)) : WAN_PROFILES;
  if (!profiles.length) throw new Error(`--wan-profile: one of ${WAN_PROFILES.map((p) => p.id).join(', ')}`);
  // The anonymous source: the base copied (loopback) into `anon`, which is also the warm target.
  const seed = spawnSync(process.execPath, [ctx.cli, 'copy', `${ctx.src.host}/${ctx.base.repo}:${ctx.base.tag}`, `${ctx.warm.host}/${ctx.base.repo}:${ctx.base.tag}`, '--quiet'], { env: regpushEnv(ctx), encoding: 'utf8' });
  if (seed.status !== 0) throw new Error(`seeding the anonymous source failed: ${seed.stderr}`);
  if (!opt.only || opt.only.includes('copy-multi')) {
    ctx.multiArch = await seedMultiArch(new Registry(`http://127.0.0.1:${R.anon.port}`));
    log(`wan: multi-platform source ${MULTI_REPO}:${MULTI_TAG} (${ctx.multiArch.children} child manifests, ${(ctx.multiArch.blobBytes / 1e6).toFixed(1)} MB of blobs)`);
  }
  const startup = await startupMs(ctx, opt);
  log(`wan: regpush start-up (median --version, loopback) ${startup.toFixed(0)} ms`);

  const variants = [];
  for (const p of profiles) {
    variants.push({ profile: p, auth: 'anon' });
    if (p.id === '80ms' || profiles.length === 1) variants.push({ profile: p, auth: 'token' }, { profile: p, auth: 'token-same' });
  }
  const out = [];
  const auths = opt.wanAuth?.split(',');
  if (auths?.some((a) => !WAN_AUTHS[a])) throw new Error(`--wan-auth: a comma list of ${Object.keys(WAN_AUTHS).join(', ')}`);
  for (const v of variants.filter((x) => !auths || auths.includes(x.auth))) out.push(await runVariant(v, { ctx, opt, R, tokenService, log, blobs, startup }));
  return { startupMs: startup, variants: out, markdown: markdown(out, startup) };
}

async function startupMs(ctx, opt) {
  const walls = [];
  for (let i = 0; i < Math.max(3, opt.runs); i++) {
    const r = await measure(process.execPath, [ctx.cli, '--version'], { env: regpushEnv(ctx) });
    if (r.ok) walls.push(r.wallMs);
  }
  return median(walls) ?? 0;
}

async function runVariant({ profile, auth }, { ctx, opt, R, tokenService, log, blobs, startup }) {
  const base = opt.portBase + 10;
  const links = {};
  const mk = (name) => (links[name] = new Link({ ...profile, name }));
  const wctx = { ...ctx };
  const cold = await mk('cold').proxy(base + 0, R.anon2.port);
  wctx.cold = { ...ctx.cold, host: `127.0.0.1:${cold.port}`, url: `http://127.0.0.1:${cold.port}` };
  const warmPort = base + 1;
  const warm = await mk('warm').proxy(warmPort, R.anon.port);
  wctx.warm = { ...ctx.warm, host: `127.0.0.1:${warm.port}`, url: `http://127.0.0.1:${warm.port}` };
  let router;
  if (auth === 'token' || auth === 'token-same') {
    const src = mk('src');
    const regPort = base + 2;
    // token: the realm on a port (host) of its own; token-same: on the registry's port, routed by path.
    const tsPort = auth === 'token' ? base + 3 : regPort;
    const from = Buffer.from(`127.0.0.1:${tokenService.port}`);
    const to = Buffer.from(`127.0.0.1:${tsPort}`);
    if (from.length !== to.length) throw new Error('the token service and its proxy need ports of the same length');
    if (auth === 'token') {
      await src.proxy(regPort, R.token.port, [from, to]);
      await src.proxy(tsPort, tokenService.port);
    } else {
      router = await pathRouter(R.token.port, tokenService.port);
      await src.proxy(regPort, router.port, [from, to]);
    }
    wctx.src = { ...ctx.src, host: `127.0.0.1:${regPort}`, url: `http://127.0.0.1:${regPort}`, realm: `http://127.0.0.1:${tsPort}/token` };
  } else {
    // The anonymous source is the warm registry, so it shares that link.
    wctx.src = { host: wctx.warm.host, url: wctx.warm.url };
  }
  // Each link stands for a registry 40–150 ms away, not on this machine: regpush probes the scheme
  // (plain HTTP or TLS) of a loopback port only, so the emulated registries are named as plain-HTTP
  // ones, as a remote plain-HTTP registry must be — else every run would pay a probe no real
  // remote registry costs. (Over https a real registry costs TLS handshakes instead; see above.)
  wctx.plainHttp = [wctx.cold.host, wctx.warm.host, wctx.src.host];
  wctx.curlPipe = join(ctx.tmp, `curl-pipe-${profile.id}-${auth}.sh`);
  writeCurlPipe(wctx.curlPipe, { src: { realm: 'http://unused', service: '', ...wctx.src }, dst: wctx.cold, repo: ctx.base.repo, tag: ctx.base.tag, manifestType: MT.manifest, blobs });
  if (auth === 'anon') {
    const { readFileSync } = await import('node:fs');
    writeFileSync(wctx.curlPipe, readFileSync(wctx.curlPipe, 'utf8').replace(/^TOKEN=.*$/m, 'TOKEN=anonymous'));
  }

  // copy-multi reads the anonymous source only (where it is seeded).
  const defs = [...withSplit(scenarios(wctx), wctx, opt), multiArchScenario(wctx, regpushEnv)].filter(
    (s) => ROWS.includes(s.id) && !(auth === 'anon' && s.id === 'cfy-cold') && !(auth !== 'anon' && s.id === 'copy-multi') && (!opt.only || opt.only.includes(s.id)),
  );
  const results = Object.fromEntries(defs.map((s) => [s.id, []]));
  const linkList = Object.values(links);
  const runOne = async (s, round, record) => {
    const skip = s.needs?.(wctx);
    if (skip) return;
    if (s.cold) wipeStorage(ctx.cold.storageDir);
    const { cmd, args, env } = s.cmd(wctx, `${profile.id}-${auth}-${round}`);
    const a = s.group === 'regpush' ? args.map((x) => (x === '--quiet' ? '--debug' : x)) : args;
    s.before?.(wctx);
    for (const l of linkList) l.reset();
    const r = await measure(cmd, a, { env, timeoutMs: Math.max(opt.timeoutS * 1000, 300_000) });
    const conns = linkList.reduce((n, l) => n + l.stats.connections, 0);
    const reqs = linkList.flatMap((l) => l.stats.requests);
    const busiest = Math.max(...linkList.flatMap((l) => [l.stats.bytes.up, l.stats.bytes.down]));
    const rec = { round, ok: r.ok, wallMs: r.wallMs, cpuMs: r.cpuMs, connections: conns, requests: reqs.length, busiestBytes: busiest, requestKinds: countKinds(reqs) };
    if (!r.ok) rec.error = `exit ${r.code}: ${(r.stderr || r.stdout).split('\n').filter(Boolean).slice(-2).join(' ⏎ ').slice(0, 300)}`;
    else rec.invalid = s.check(r, wctx);
    if (s.group === 'regpush' && r.ok) rec.critical = criticalPath(r.stderr);
    // Each regpush run's --debug log, for reading its request chain: in --wan-log DIR, or with --keep in the temp dir.
    const logDir = opt.wanLog ?? (opt.keep ? ctx.tmp : undefined);
    if (logDir && s.group === 'regpush') writeFileSync(join(logDir, `wan-${profile.id}-${auth}-${s.id}-${round}.log`), r.stderr ?? '');
    const flag = rec.error ? `  FAILED ${rec.error}` : rec.invalid ? `  INVALID ${rec.invalid}` : '';
    log(`wan ${profile.id} ${auth.padEnd(10)} ${String(round).padEnd(3)} ${s.id.padEnd(12)} ${(r.wallMs / 1000).toFixed(2).padStart(7)} s  ${String(reqs.length).padStart(3)} req  ${String(conns).padStart(3)} conn${rec.critical ? `  path ${rec.critical.chain.length} req ${rec.critical.ms} ms` : ''}${flag}`);
    if (record) results[s.id].push(rec);
  };
  try {
    for (let w = 1; w <= opt.warmup; w++) for (const s of defs) await runOne(s, `w${w}`, false);
    for (let round = 1; round <= opt.runs; round++) for (const s of defs) await runOne(s, `r${round}`, true);
  } finally {
    await Promise.all(linkList.map((l) => l.close()));
    await router?.close();
  }
  const rows = defs.map((s) => {
    const runs = results[s.id];
    const valid = runs.filter((r) => r.ok && !r.invalid);
    const bytes = median(valid.map((r) => r.busiestBytes));
    const { floorMs, rtts } = wanFloor(s.id, auth, profile, startup, bytes);
    const mid = valid.length ? [...valid].sort((a, b) => a.wallMs - b.wallMs)[valid.length >> 1] : undefined;
    return {
      id: s.id, label: s.label, group: s.group, runs: runs.length, valid: valid.length, skipped: s.needs?.(wctx),
      wallMs: median(valid.map((r) => r.wallMs)), floorMs, floorRtts: rtts, busiestBytes: bytes,
      requests: median(valid.map((r) => r.requests)), connections: median(valid.map((r) => r.connections)),
      critical: mid?.critical, requestKinds: mid?.requestKinds,
      problems: [...new Set(runs.filter((r) => !r.ok || r.invalid).map((r) => r.invalid ?? r.error))],
      runsDetail: runs,
    };
  });
  return { profile, auth, rows, goals: wanGoals(rows, profile, auth, startup) };
}

function countKinds(reqs) {
  const k = {};
  for (const r of reqs) {
    const [m, path] = r.split(' ');
    const what = path === '/v2/' ? '/v2/' : /\/token\b/.test(path) ? 'token' : /\/manifests\//.test(path) ? 'manifest' : /\/blobs\/uploads\//.test(path) ? 'upload' : /\/blobs\//.test(path) ? 'blob' : 'other';
    const key = `${m} ${what}`;
    k[key] = (k[key] ?? 0) + 1;
  }
  return k;
}

/**
 * The issue's goals at 80 ms / 200 Mbit (anonymous; token: the anonymous limit + 2 RTT, see the
 * header). Other profiles: informative. `rows` as runVariant makes them (id, wallMs, floorMs).
 */
export function wanGoals(rows, profile, auth, startup) {
  const by = Object.fromEntries(rows.map((r) => [r.id, r]));
  // The floor counts the token round trips of this topology (3 or 2); the limit allows 2 in both.
  const extra = auth === 'anon' ? 0 : TOKEN_GOAL_RTTS * profile.rttMs;
  const floorAnon = (r) => (r?.floorMs === undefined ? undefined : r.floorMs - TOKEN_FLOOR_RTTS[auth] * profile.rttMs);
  const g = [];
  const add = (name, row, limit, formula) => {
    const value = row?.wallMs;
    const ran = row && !row.skipped && row.runs > 0;
    // A row that ran without one valid run FAILs (with why), it is not "n/a"; one with only some
    // valid runs says how many its median stands on.
    if (ran && !row.valid) {
      g.push({ name, value, limit, pass: false, reason: `no valid run of ${row.runs}${row.problems?.length ? `: ${row.problems[0].slice(0, 120)}` : ''}`, formula });
      return;
    }
    const reason = ran && row.valid < row.runs ? `${row.valid}/${row.runs} valid` : undefined;
    g.push({ name, value, limit, pass: value === undefined || limit === undefined ? undefined : value <= limit, reason, formula });
  };
  const c = by['push-cold'];
  add('push cold ≤ 1.05 × floor', c, floorAnon(c) && 1.05 * floorAnon(c) + extra, '1.05 × (start-up + 5 RTT + B/bw)');
  add('push warm ≤ 3 RTT + start-up + 50 ms', by['push-warm'], 3 * profile.rttMs + startup + 50 + extra, '3 RTT + start-up + 50 ms');
  const cp = by['copy-cold'];
  add('copy ≤ 1.05 × floor', cp, floorAnon(cp) && 1.05 * floorAnon(cp) + extra, '1.05 × (start-up + 5 RTT + B/bw)');
  const s = by['push-same'];
  add('push same-registry ≤ 1.2 × floor', s, floorAnon(s) && 1.2 * floorAnon(s) + extra, '1.2 × (start-up + 4 RTT + B/bw)');
  return g;
}

const sec = (ms) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);

function markdown(variants, startup) {
  const md = [`### Over an emulated WAN (user-space link per registry; start-up = ${startup.toFixed(0)} ms)`, ''];
  md.push('Floor = start-up + k × RTT + B / bandwidth; k: push cold 5, copy 5, push same-registry 4, copy same-registry 4, push warm 3, copy of a 16-manifest index 7, + 3 with the token service on another host (401, new connection to it, token GET), + 2 on the registry\'s host (401, token GET); B = bytes over the busiest link direction in that run. Goals with the token source: the anonymous limit (computed without the token round trips) + 2 RTT, in both topologies.', '');
  for (const v of variants) {
    md.push(`#### ${v.profile.rttMs} ms RTT / ${v.profile.mbit} Mbit/s, ${WAN_AUTHS[v.auth]}`, '');
    md.push('| scenario | median | floor (k RTT + B) | × floor | requests | new conns | critical path (regpush --debug) |', '|---|---:|---:|---:|---:|---:|---|');
    for (const r of v.rows) {
      const status = r.skipped ? ` (skipped: ${r.skipped})` : r.valid < r.runs ? ` (${r.runs - r.valid} invalid: ${r.problems.join('; ').slice(0, 120)})` : '';
      const crit = r.critical ? `${r.critical.chain.length} req, ${r.critical.ms} ms: ${compress(r.critical.chain)}` : '';
      md.push(`| ${r.id}${status} | ${sec(r.wallMs)} | ${r.floorMs === undefined ? '–' : `${sec(r.floorMs)} (${r.floorRtts} + ${(r.busiestBytes / 1e6).toFixed(1)} MB)`} | ${r.floorMs && r.wallMs ? (r.wallMs / r.floorMs).toFixed(2) : '–'} | ${r.requests ?? '–'} | ${r.connections ?? '–'} | ${crit} |`);
    }
    md.push('', '| goal | value | limit | result |', '|---|---:|---:|---|');
    for (const g of v.goals) md.push(`| ${g.name}${v.auth === 'anon' ? '' : ' (+2 RTT, token)'} | ${sec(g.value)} | ${sec(g.limit)} | ${g.pass === undefined ? 'n/a' : g.pass ? 'PASS' : 'FAIL'}${g.reason ? ` (${g.reason.replace(/\|/g, '\\|')})` : ''} |`);
    md.push('');
  }
  return md.join('\n');
}

/** `GET manifest → GET manifest → HEAD blob ×3` style. */
function compress(chain) {
  const out = [];
  for (const c of chain) {
    const last = out.at(-1);
    if (last && last.c === c) last.n++;
    else out.push({ c, n: 1 });
  }
  return out.map((x) => (x.n > 1 ? `${x.c} ×${x.n}` : x.c)).join(' → ');
}
