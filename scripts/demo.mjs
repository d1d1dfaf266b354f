#!/usr/bin/env node
// `npm start`: the main job on a built-in local default. Starts local registries (a token-auth
// source and a Basic-auth target), seeds a small base image, shows the plan (--dry-run), pushes a
// sample app onto the base straight from registry to registry, prints the digest, then proves the
// image is real: skopeo inspect, skopeo copy + umoci unpack, and a run with crun where it works.
//   npm start            (registries are stopped at the end)
//   npm start -- --keep  (leave them running to play with)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, testEnv } from './lib/test-env.mjs';
import { start, stop } from './registries.mjs';

const keep = process.argv.includes('--keep');
const cli = join(REPO_ROOT, 'dist', 'cli', 'regpush.cjs');
const say = (m) => process.stdout.write(`\n\x1b[1m== ${m}\x1b[0m\n`);
function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${[cmd, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', env: { ...process.env, ...(opts.env ?? {}) } });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} exited ${r.status}`);
  return r;
}

const work = mkdtempSync(join(tmpdir(), 'regpush-demo-'));
let startedHere = false;
try {
  say('starting local registries (token-auth source, Basic-auth target) and seeding a base image');
  const { state, started } = await start({ seed: true });
  startedHere = started;
  const src = state.registries.token;
  const dst = state.registries.basic;
  const from = `${src.host}/base/busybox:v2s2`;
  const to = `${dst.host}/demo/hello:1.0`;

  const app = join(work, 'publish');
  mkdirSync(join(app, 'wwwroot'), { recursive: true });
  writeFileSync(join(app, 'App.sh'), '#!/bin/sh\necho "Hello from regpush! GREETING=$GREETING, cwd=$(pwd), args: $*"\nls /app\n');
  chmodSync(join(app, 'App.sh'), 0o755);
  writeFileSync(join(app, 'wwwroot', 'index.html'), '<h1>hello</h1>\n');
  writeFileSync(join(app, 'appsettings.json'), '{"Logging":{"LogLevel":{"Default":"Information"}}}\n');

  const env = { REGPUSH_FROM_USER: src.user, REGPUSH_FROM_PASSWORD: src.password, REGPUSH_TO_USER: dst.user, REGPUSH_TO_PASSWORD: dst.password };
  const pushArgs = ['push', '--from', from, '--to', to, '--app', app, '--workdir', '/app',
    '--entrypoint', '/bin/sh', '--entrypoint', 'App.sh', '--cmd', 'demo', '--env', 'GREETING=hi', '--port', '8080'];
  say('the plan (nothing is written)');
  run(process.execPath, [cli, ...pushArgs, '--dry-run'], { env });
  say('the push: base blobs stream token-registry → basic-registry while the app layer is built');
  const pushed = run(process.execPath, [cli, ...pushArgs], { env, capture: true });
  const ref = pushed.stdout.trim();
  process.stdout.write(`${ref}\n`);

  say('what the target holds (skopeo, a tool regpush did not write)');
  run('skopeo', ['inspect', '--tls-verify=false', '--creds', `${dst.user}:${dst.password}`, `docker://${to}`]);
  say('download, verify and unpack it (skopeo copy + umoci unpack), then run it with crun');
  const layout = join(work, 'layout');
  run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--src-creds', `${dst.user}:${dst.password}`, `docker://${to}`, `oci:${layout}:img`]);
  const bundle = join(work, 'bundle');
  run('umoci', ['unpack', '--image', `${layout}:img`, bundle]);
  const cfgFile = join(bundle, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.process.terminal = false;
  writeFileSync(cfgFile, JSON.stringify(cfg));
  // Two host workarounds (see the README): hybrid cgroups need a private mount namespace.
  const r = run('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
    'grep -qs " /sys/fs/cgroup/unified " /proc/self/mounts && umount /sys/fs/cgroup/unified; exec crun --root "$0/crun" --cgroup-manager=disabled run --bundle "$0/bundle" regpush-demo', work], { allowFail: true });
  if (r.status !== 0) process.stdout.write('(could not run the container on this host; the image itself was verified above)\n');
  say(`done: ${ref}`);
  if (keep) process.stdout.write(`registries left running (state in ${testEnv().stateDir}); stop them with: node scripts/registries.mjs stop\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
  if (!keep && startedHere) await stop({ quiet: true });
}
