// The README's tutorial, run as written: its sh blocks are read from README.md (between the
// tutorial markers), so the text and this test cannot drift apart. They run in one bash, from the
// repository root, against the test registries, with `regpush` on PATH as the bundled CLI; the
// image the tutorial pushed and copied is run with crun.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliBin, exec, loadState, runtimeUnavailable, tempDir } from './harness.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const state = loadState();

/** The sh blocks of the tutorial section, in order. */
export function tutorialBlocks(readme: string): string[] {
  const start = readme.indexOf('<!-- tutorial');
  const end = readme.indexOf('<!-- /tutorial -->');
  assert.ok(start >= 0 && end > start, 'README has the tutorial markers');
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

test('the README tutorial works as written: start, push, inspect, copy, run', async (t) => {
  const blocks = tutorialBlocks(readFileSync(join(REPO, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 5, `tutorial blocks: ${blocks.length}`);
  assert.ok(blocks.some((b) => /\bregpush push\b/.test(b)) && blocks.some((b) => /\bregpush inspect\b/.test(b)) && blocks.some((b) => /\bregpush copy\b/.test(b)));
  // The run step needs crun and root; without them the rest still runs.
  const noRuntime = await runtimeUnavailable();
  const runs = blocks.filter((b) => /\bcrun\b/.test(b));
  assert.equal(runs.length, 1, 'one block runs the image');
  const steps = noRuntime ? blocks.filter((b) => !runs.includes(b)) : blocks;
  if (noRuntime) t.diagnostic(`the run step is left out: ${noRuntime}`);

  const bin = tempDir('regpush-tutorial-bin-');
  writeFileSync(join(bin, 'regpush'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliBin)} "$@"\n`);
  chmodSync(join(bin, 'regpush'), 0o755);
  // Marks between the steps, to tell which output belongs to which.
  const script = ['set -euo pipefail', ...steps.flatMap((b, i) => [`echo "@@step ${i}"`, b])].join('\n');
  // TMPDIR a folder of the harness's: the tutorial's `mktemp -d` scratch space is made in it and
  // removed with it, also when a step fails (it was removed only after the last step, and only
  // where it lay under /tmp, so a failed run or a run with TMPDIR set left it behind).
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: tempDir('regpush-dockercfg-'), TMPDIR: tempDir('regpush-tutorial-tmp-') };
  for (const k of Object.keys(env)) if (/^REGPUSH_(USER|PASSWORD|TO_|FROM_)/.test(k)) delete env[k];
  const r = await exec('bash', ['-c', script], { cwd: REPO, env, timeoutMs: 180_000 });
  assert.equal(r.code, 0, `tutorial failed:\n${r.stdout}\n${r.stderr}`);

  const out = r.stdout.split(/@@step \d+\n/);
  // start: the registries the tests use (already running) and an env file pointing at them.
  assert.match(r.stderr, /already running|started/);
  // push: one line, the digest at the Basic-auth registry.
  const pushed = /^(\S+\/tutorial\/hello)@(sha256:[0-9a-f]{64})$/m.exec(out[2]!);
  assert.ok(pushed, `push output:\n${out[2]}`);
  assert.equal(pushed[1], `${state.registries.basic.host}/tutorial/hello`);
  // inspect: the same digest, read with the REGPUSH_TO_* pair of the env file, and the entrypoint.
  assert.match(out[3]!, new RegExp(`^Digest:\\s+${pushed[2]}$`, 'm'));
  assert.match(out[3]!, /^Entrypoint:\s+\["\/app\/hello.sh"\]$/m);
  // copy: the same digest at the mirror.
  assert.equal(out[4]!.trim(), `${state.registries.anon2.host}/tutorial/hello@${pushed[2]}`);
  // run: the app's own output.
  if (!noRuntime) assert.match(out[5]!, /^Hello from regpush in \/app$/m);
});
