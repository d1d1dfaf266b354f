// Text from registries and images reaches the terminal escaped (src/cli/terminal-text.ts): an
// image's label, a registry's error message or a tag name holding ESC sequences, CR or LF could
// otherwise rewrite what regpush printed. CLI in-process against fake registries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/cli/terminal-text.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-sync-esc-');

const fake = fakeRegistryPool();

/** Any character a terminal would act on rather than show (see UNPRINTABLE), LF excepted. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

async function cliEnv() {
  const reg = await fake();
  const lib = fakeLibraryOptions(reg);
  return { reg, env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') } };
}

test('printable: controls, DEL, C1 and bidi overrides become escapes; text and the characters kept stay', () => {
  assert.equal(printable('plain text, ünïcödé 🙂'), 'plain text, ünïcödé 🙂');
  assert.equal(printable('a\x1b[2Kb'), 'a\\x1b[2Kb');
  assert.equal(printable('x\ny\rz\t'), 'x\\ny\\rz\\t');
  assert.equal(printable('\x00\x7f\u009b'), '\\x00\\x7f\\x9b');
  assert.equal(printable('abc\u202edef\u2066'), 'abc\\u202edef\\u2066');
  assert.equal(printable('a\tb\nc', '\t'), 'a\tb\\nc');
});

test('inspect: a label or Env value cannot add lines or send escape sequences to the terminal (they were printed raw)', async () => {
  const { reg, env } = await cliEnv();
  const forged = 'ok\nDigest:       sha256:' + '0'.repeat(64) + '\x1b[2K';
  reg.seedImage('app', { tags: ['1'], config: { Labels: { 'org.x': forged }, Env: ['TITLE=\x1b]0;pwned\x07', 'PATH=/bin'] } });

  const r = await runMain(['inspect', reg.ref('app:1')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, CONTROL, 'no control character reaches the terminal');
  assert.equal(r.stdout.match(/^Digest:/gm)?.length, 1, 'one Digest line: the image\'s own');
  assert.ok(r.stdout.includes('  org.x=ok\\nDigest:       sha256:' + '0'.repeat(64) + '\\x1b[2K\n'), r.stdout);
  assert.ok(r.stdout.includes('  TITLE=\\x1b]0;pwned\\x07\n'), r.stdout);

  // --json and --config keep the exact strings (JSON escapes them itself).
  const j = await runMain(['inspect', '--json', reg.ref('app:1')], { env });
  assert.equal(j.code, 0, j.stderr);
  assert.equal((JSON.parse(j.stdout) as { config: { Labels: Record<string, string> } }).config.Labels['org.x'], forged);
});

test('a registry\'s error message with escape sequences and line breaks stays one printable error line', async () => {
  const { reg, env } = await cliEnv();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'manifest' }, { kind: 'status', status: 404, code: 'MANIFEST_UNKNOWN', message: 'gone\r\x1b[32mregpush: done\x1b[0m\u009b2K' });

  const r = await runMain(['inspect', '--retries', '0', reg.ref('app:1')], { env });
  assert.equal(r.code, 4, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(lines[0]!, CONTROL);
  assert.ok(lines[0]!.includes('MANIFEST_UNKNOWN: gone\\r\\x1b[32mregpush: done\\x1b[0m\\x9b2K'), lines[0]);
});

test('tags: a tag name with a line break or an escape prints as one escaped line (a script reading the list saw two tags)', async () => {
  const { reg, env } = await cliEnv();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'tags' }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'app', tags: ['1', 'x\nlatest', 'y\x1b[1A'] }));
    },
  });

  const r = await runMain(['tags', `${reg.host}/app`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1\nx\\nlatest\ny\\x1b[1A\n');
});

test('inspect --raw, --config and --json exclude each other: one line naming the flags given and what each prints', async () => {
  const raw = '--raw (the exact manifest bytes)';
  const config = '--config (the exact config bytes)';
  const json = '--json (the summary as JSON)';
  for (const [flags, said] of [
    [['--raw', '--json'], `give either ${raw} or ${json}, not both`],
    [['--config', '--json'], `give either ${config} or ${json}, not both`],
    [['--raw', '--config'], `give either ${raw} or ${config}, not both`],
    [['--json', '--config', '--raw'], `give one of ${raw}, ${config} or ${json}, not several`],
  ] as const) {
    const r = await runMain(['inspect', ...flags, '127.0.0.1:1/a:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `regpush: error: ${said} [E_USAGE]\n`);
  }
});

test('log lines and the copy plan show a registry\'s text escaped too', async () => {
  const { createCliLogger } = await import('../../src/cli/logger.js');
  const { SecretSet } = await import('../../src/redact.js');
  const { PassThrough } = await import('node:stream');
  const { copyPlanText } = await import('../../src/cli/commands/copy.js');
  const err: string[] = [];
  const stderr = new PassThrough().on('data', (d) => err.push(String(d)));
  const logger = createCliLogger({ stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {} }, 'normal', new SecretSet());
  logger.warn('mirror said: a\x1b]0;t\x07\nwarning: forged\tend');
  assert.equal(err.join(''), 'warning: mirror said: a\\x1b]0;t\\x07\\nwarning: forged\tend\n');

  const plan = copyPlanText({
    source: { reference: 'r/app:1', digest: 'sha256:' + 'a'.repeat(64) },
    targets: [{ target: 'h/app:1', ok: false, tags: [], blobs: [], error: { code: 'E_REGISTRY', message: 'x\x1b[2Ky\nplan: fake' } }],
  } as unknown as Parameters<typeof copyPlanText>[0]);
  assert.ok(plan.includes('FAILS: E_REGISTRY x\\x1b[2Ky\\nplan: fake\n'), plan);
  assert.equal(plan.split('\n').filter((l) => l.startsWith('plan:')).length, 1);
});

test('sync: an image\'s line relays its registry\'s error message escaped', async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { reg, env } = await cliEnv();
  reg.seedImage('app', { tags: ['1'] });
  reg.fault({ kind: 'upload' }, { kind: 'status', status: 400, code: 'DENIED', message: 'evil\x1b[2K\rsynced: all fine\u202e' });
  const dir = tempDir();
  writeFileSync(join(dir, 'sync.yaml'), `images:\n  - source: ${reg.host}/app\n    tags: ["1"]\n    targets: ["${reg.host}/copy"]\n`);

  const r = await runMain(['sync', '--retries', '0', 'sync.yaml'], { env, cwd: dir });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr.trim().split('\n').at(-1)!, / \[E_DENIED\]$/, 'the registry\'s 400 DENIED is a refusal, not a login to fix');
  assert.doesNotMatch(r.stderr, CONTROL, 'no control character reaches the terminal');
  assert.ok(r.stderr.includes('evil\\x1b[2K\\rsynced: all fine\\u202e'), r.stderr);
});
