#!/usr/bin/env node
// `npm start`: the main job on a built-in local default. Starts local registries (a token-auth
// source and a Basic-auth target), seeds a small base image, shows the plan (--dry-run), pushes a
// sample app onto the base straight from registry to registry, prints the digest, then proves the
// image is real: skopeo inspect, skopeo copy + umoci unpack, and a run with crun where it works.
//   npm start            (registries are stopped at the end: nothing is left running)
//   npm start -- --keep  (leave them running and write an env file to source, to play with)
// Every command is printed as it can be typed again: credentials come from the exports printed
// first, not from hidden variables, and the sample app stays in the state directory.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, testEnv } from './lib/test-env.mjs';
import { envExports, start, stop } from './registries.mjs';

const keep = process.argv.includes('--keep');
const cli = join(REPO_ROOT, 'dist', 'cli', 'regpush.cjs');
const bold = process.stdout.isTTY ? (m) => `\x1b[1m${m}\x1b[0m` : (m) => m;
const say = (m) => process.stdout.write(`\n${bold(`== ${m}`)}\n`);
const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
/** How a command is shown: the CLI as `node dist/cli/regpush.cjs` (run from the repository root). */
const shown = (cmd, args) => (cmd === process.execPath && args[0] === cli ? ['node', relative(REPO_ROOT, cli) || cli, ...args.slice(1)] : [cmd, ...args]);
function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${shown(cmd, args).map(quote).join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', env: { ...process.env, ...(opts.env ?? {}) } });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} exited ${r.status}`);
  return r;
}

const { stateDir } = testEnv();
const work = join(stateDir, 'demo');
let startedHere = false;
try {
  say('starting local registries (token-auth source, Basic-auth target) and seeding a base image');
  let state;
  try {
    ({ state, started: startedHere } = await start({ seed: true }));
  } catch (e) {
    // A busy port or a missing package: one line, not a stack trace.
    process.stderr.write(`npm start: ${e.message.split('\n')[0]}\n`);
    process.exit(1);
  }
  const src = state.registries.token;
  const dst = state.registries.basic;
  const from = `${src.host}/base/busybox:v2s2`;
  const to = `${dst.host}/demo/hello:1.0`;

  rmSync(work, { recursive: true, force: true });
  const app = join(work, 'publish');
  mkdirSync(join(app, 'wwwroot'), { recursive: true });
  writeFileSync(join(app, 'App.sh'), '#!/bin/sh\necho "Hello from regpush! GREETING=$GREETING, cwd=$(pwd), args: $*"\nls /app\n');
  chmodSync(join(app, 'App.sh'), 0o755);
  writeFileSync(join(app, 'wwwroot', 'index.html'), '<h1>hello</h1>\n');
  writeFileSync(join(app, 'appsettings.json'), '{"Logging":{"LogLevel":{"Default":"Information"}}}\n');

  const env = { REGPUSH_FROM_USER: src.user, REGPUSH_FROM_PASSWORD: src.password, REGPUSH_TO_USER: dst.user, REGPUSH_TO_PASSWORD: dst.password };
  say('the credentials (test fixtures of the local registries): export them to type the commands below yourself');
  process.stdout.write(`export ${Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ')}\n`);
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
  // Two host workarounds (docs/running-images.md): no terminal in the bundle, and hybrid cgroups
  // need a private mount namespace.
  const r = run('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
    'grep -qs " /sys/fs/cgroup/unified " /proc/self/mounts && umount /sys/fs/cgroup/unified; exec crun --root "$0/crun" --cgroup-manager=disabled run --bundle "$0/bundle" regpush-demo', work], { allowFail: true });
  if (r.status !== 0) process.stdout.write('(could not run the container on this host; the image itself was verified above)\n');
  say(`done: ${ref}`);
  if (keep) {
    const envFile = join(stateDir, 'regpush.env');
    // The demo's own pairs instead of the defaults (which read and write DST): its source is the token registry.
    const addresses = envExports(state).split('\n').filter((l) => !l.startsWith('export REGPUSH_TO_') && !l.startsWith('export REGPUSH_FROM_'));
    const pairs = Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`);
    writeFileSync(envFile, [...addresses.filter(Boolean), "# the demo's credentials: source $TOKEN_REGISTRY (token auth), target $DST (Basic auth)", ...pairs, ''].join('\n'));
    process.stdout.write(`registries left running. Load their addresses and credentials into your shell with:\n  . ${envFile}\n` +
      `then try e.g.: node dist/cli/regpush.cjs inspect ${to}\nstop them with: node scripts/registries.mjs stop\n`);
  } else {
    process.stdout.write(`registries stopped. To type the commands above yourself: node scripts/registries.mjs start, the export line above, then the $ lines;\n` +
      `or npm start -- --keep to leave them running. The README's tutorial goes through each step by hand.\n`);
  }
} finally {
  if (!keep && startedHere) await stop({ quiet: true });
}
