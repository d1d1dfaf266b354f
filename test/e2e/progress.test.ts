// The progress display: in a pseudo-terminal (tmux, whose screen we capture after the redraws,
// and script(1), whose raw bytes we read) one line per blob with its action, bytes and rate, and
// a total line; without a terminal plain start/end lines and never an escape code; --quiet only
// the result.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliBin, exec, imageRef, loadState, runCli, tempDir } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `p${process.pid}${Date.now().toString(36)}`;
const base = state.images.anon['base/busybox:v2s2'];
const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function makeApp(): string {
  const dir = tempDir('regpush-progress-app-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'run.sh'), '#!/bin/sh\necho progress\n', { mode: 0o755 });
  writeFileSync(join(dir, 'blob.bin'), randomBytes(3 * 1024 * 1024)); // incompressible: a visible upload
  return dir;
}

/** A push from one registry to another: every base layer streams, the app layer is built. */
function pushArgs(tag: string): string[] {
  return ['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', imageRef(R.anon2, `${run}/${tag}:1`), '--app', makeApp()];
}

/** The command line for a shell, with an environment that cannot see the host's credentials. */
function shellCommand(args: string[]): string {
  const env = { DOCKER_CONFIG: tempDir('regpush-dockercfg-'), TERM: 'xterm-256color', LANG: 'C.UTF-8' };
  return `env ${Object.entries(env).map(([k, v]) => `${k}=${q(v)}`).join(' ')} ${q(process.execPath)} ${q(cliBin)} ${args.map(q).join(' ')}`;
}

async function has(cmd: string): Promise<boolean> {
  return (await exec('sh', ['-c', `command -v ${cmd}`])).code === 0;
}

test('in a terminal (tmux): the screen shows one line per blob with action, bytes and rate, and a total line', async (t) => {
  if (!(await has('tmux'))) return t.skip('tmux is not installed');
  const socket = `regpush-test-${process.pid}`;
  const tmux = (...a: string[]) => exec('tmux', ['-L', socket, '-f', '/dev/null', ...a]);
  const started = await tmux('new-session', '-d', '-s', 'push', '-x', '160', '-y', '50', `${shellCommand(pushArgs('tty'))}; echo "__EXIT=$?"; sleep 120`);
  assert.equal(started.code, 0, started.stderr);
  try {
    let screen = '';
    for (let i = 0; i < 600 && !/__EXIT=\d+/.test(screen); i++) {
      await sleep(100);
      screen = (await tmux('capture-pane', '-p', '-t', 'push')).stdout;
    }
    assert.match(screen, /__EXIT=0/, `the push did not finish:\n${screen}`);
    const lines = screen.split('\n');
    for (const layer of base.layers!) {
      const line = lines.find((l) => l.startsWith(`stream  ${short(layer)}`));
      assert.ok(line, `no line for ${layer}:\n${screen}`);
      assert.match(line, /\[=+\]\s+\S+ (B|KiB|MiB) \/ \S+ (B|KiB|MiB)\s+\S+ (B|KiB|MiB)\/s\s+done$/, line);
    }
    const layer = lines.find((l) => l.startsWith('build   app layer'));
    assert.ok(layer, `no line for the app layer:\n${screen}`);
    assert.match(layer, /MiB \/ 3\.\d MiB\s+\S+ (KiB|MiB|GiB)\/s\s+done$/);
    // Each blob appears once: the frame was redrawn in place, not appended.
    for (const layerDigest of base.layers!) assert.equal(lines.filter((l) => l.includes(short(layerDigest))).length, 1, screen);
    assert.match(screen, /^total\s+4\/4 blobs\s+(\S+ MiB) \/ \1\s+\S+ \S+\/s\s+\d+\.\ds\s+done\s*$/m);
    assert.match(screen, new RegExp(`^${imageRef(R.anon2, `${run}/tty`).replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}\\s*$`, 'm'), 'the result line follows');
  } finally {
    await tmux('kill-server');
  }
});

test('in a terminal (script): the display is drawn with cursor codes and ends with the total line', async (t) => {
  if (!(await has('script'))) return t.skip('script (util-linux) is not installed');
  const r = await exec('script', ['-qfec', shellCommand(pushArgs('script')), '/dev/null'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout);
  assert.ok(r.stdout.includes('\x1b['), 'no cursor codes in a terminal');
  for (const layer of base.layers!) assert.match(r.stdout, new RegExp(`stream  ${short(layer)}  \\[`));
  assert.match(r.stdout, /total\s+4\/4 blobs .* done/);
  assert.match(r.stdout, /@sha256:[0-9a-f]{64}/);
});

test('without a terminal: plain start and end lines per blob, a total line, and no escape codes', async () => {
  const r = await runCli(pushArgs('plain'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes('\x1b['), `escape codes without a terminal:\n${JSON.stringify(r.stderr)}`);
  assert.ok(!r.stdout.includes('\x1b['));
  const lines = r.stderr.trim().split('\n');
  for (const layer of base.layers!) {
    assert.ok(lines.some((l) => new RegExp(`^stream  ${short(layer)} \\S+ (B|KiB|MiB)$`).test(l)), `no start line for ${layer}:\n${r.stderr}`);
    assert.ok(lines.some((l) => new RegExp(`^stream  ${short(layer)} done \\(.+/s\\)$`).test(l)), `no end line for ${layer}:\n${r.stderr}`);
  }
  assert.ok(lines.includes('build   app layer'));
  assert.ok(lines.some((l) => /^build   app layer done \(3\.\d MiB\)$/.test(l)));
  assert.match(lines.at(-1)!, /^total   4 blobs \(3 stream, 1 build\), \d+\.\d MiB sent in \d+\.\ds \(.+\/s\)$/);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, 'stdout holds only the result');
  // A CI log says everything once; one target is not named on every line.
  assert.deepEqual(lines.filter((l, i) => lines.indexOf(l) !== i), [], `repeated lines:\n${r.stderr}`);
  assert.ok(!r.stderr.includes('→'), r.stderr);
});

/** Plain lines of a run to two targets: each blob's start and end once per target, the target named. */
function assertNamedOnce(stderr: string, blobs: string[], targets: string[]): void {
  const lines = stderr.trim().split('\n');
  assert.deepEqual(lines.filter((l, i) => lines.indexOf(l) !== i), [], `repeated lines:\n${stderr}`);
  for (const d of blobs) {
    for (const t of targets) {
      const done = lines.filter((l) => l.includes(short(d)) && / done/.test(l) && l.endsWith(`→ ${t}`));
      assert.equal(done.length, 1, `one done line for ${short(d)} at ${t}:\n${stderr}`);
    }
    // Started once per target, or once for a read that feeds both (that line names no target).
    const starts = lines.filter((l) => l.includes(short(d)) && !/ done/.test(l));
    assert.ok(starts.length >= 1 && starts.length <= targets.length, `starts of ${short(d)}:\n${stderr}`);
  }
}

test('without a terminal, copy to two targets: every line once, each done line names its target', async () => {
  const targets = [`${R.anon2.host}/${run}/two-a`, `${R.anon.host}/${run}/two-b`];
  const r = await runCli(['copy', imageRef(R.anon, 'base/busybox:v2s2'), ...targets.map((t) => `${t}:1`)]);
  assert.equal(r.code, 0, r.stderr);
  assertNamedOnce(r.stderr, [...base.layers!, base.config!], targets);
});

test('without a terminal, push to two targets: the app layer is built and done once, base blobs named per target', async () => {
  const targets = [`${R.anon2.host}/${run}/push-a`, `${R.anon.host}/${run}/push-b`];
  const app = pushArgs('unused').slice(-2);
  const r = await runCli(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), ...targets.flatMap((t) => ['--to', `${t}:1`]), ...app]);
  assert.equal(r.code, 0, r.stderr);
  assertNamedOnce(r.stderr, base.layers!, targets);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.filter((l) => l === 'build   app layer').length, 1, r.stderr);
  assert.equal(lines.filter((l) => l.startsWith('build   app layer done')).length, 1, r.stderr);
});

test('--quiet prints only the result, also in a terminal', async (t) => {
  const r = await runCli([...pushArgs('quiet'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^[^\n]+@sha256:[0-9a-f]{64}\n$/);
  if (!(await has('script'))) return t.skip('script is not installed');
  const tty = await exec('script', ['-qfec', shellCommand([...pushArgs('quiet-tty'), '--quiet']), '/dev/null'], { timeoutMs: 120_000 });
  assert.equal(tty.code, 0, tty.stdout);
  assert.ok(!tty.stdout.includes('\x1b['), JSON.stringify(tty.stdout));
  assert.match(tty.stdout, /^[^\n]+@sha256:[0-9a-f]{64}\r?\n$/);
});
