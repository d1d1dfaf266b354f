// An `http://` reference is refused with advice to drop the scheme and name the host insecure: the
// CLI names its flag (`--insecure-registry HOST`), the library its option (`insecureRegistries:
// ["HOST"]`), each alone (the message carried both, the CLI's with the library's option in it).
// Every entry point that parses a reference the user wrote: the operations' arguments, a
// repository for tags, and the sync file. Nothing is sent: the reference is refused before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copy, inspect, listTags, parseReference, parseSyncFile, push } from '../../src/index.js';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const schemeDir = tempDirs('regpush-scheme-');
const prefixDir = tempDirs('regpush-scheme-prefix-');

const HOST = 'reg.example:5000';
const CLI_ADVICE = `drop "http://" and add --insecure-registry ${HOST} for plain HTTP: "${HOST}/app:1"`;
const LIB_ADVICE = `drop "http://" and add insecureRegistries: ["${HOST}"] for plain HTTP: "${HOST}/app:1"`;

test('the CLI names --insecure-registry, never the library\'s option, in every command that takes a reference and in the sync file', async () => {
  const dir = schemeDir();
  writeFileSync(join(dir, 'sync.yaml'), ['images:', `  - source: http://${HOST}/app:1`, '    target: other.example/app', ''].join('\n'));
  const runs: Array<[string[], string]> = [
    [['copy', `http://${HOST}/app:1`, 'other.example/app:1'], CLI_ADVICE],
    [['push', '--from', `http://${HOST}/app:1`, '--to', 'other.example/app:1'], CLI_ADVICE],
    [['inspect', `http://${HOST}/app:1`], CLI_ADVICE],
    [['digest', `http://${HOST}/app:1`], CLI_ADVICE],
    [['tag', `http://${HOST}/app:1`, '2'], CLI_ADVICE],
    [['delete', `http://${HOST}/app:1`], CLI_ADVICE],
    [['untag', `http://${HOST}/app:1`], CLI_ADVICE],
    [['tags', `http://${HOST}/app`], `drop "http://" and add --insecure-registry ${HOST} for plain HTTP: "${HOST}/app"`],
    [['sync', 'sync.yaml'], CLI_ADVICE],
    [['copy', 'http://myreg/app:1', 'other.example/app:1'], 'write the registry with its port or a full name (myreg:5000/…, myreg.example.com/…) and, for plain HTTP, add --insecure-registry'],
  ];
  for (const [argv, advice] of runs) {
    const r = await runMain(argv, { cwd: dir });
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    // A reference given on the command line is E_REFERENCE; the same mistake in a sync file is the file's, E_INPUT (README).
    assert.match(r.stderr.trim(), new RegExp(` \\[${argv[0] === 'sync' ? 'E_INPUT' : 'E_REFERENCE'}\\]$`), argv.join(' '));
    assert.ok(r.stderr.includes(advice), `${argv.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /insecureRegistries|library:/, argv.join(' '));
  }
});

test('the library names insecureRegistries, never the CLI\'s flag', async () => {
  const said: string[] = [];
  const keep = (err: unknown) => void said.push(err instanceof Error ? err.message : String(err));
  try {
    parseReference(`http://${HOST}/app:1`);
  } catch (err) {
    keep(err);
  }
  try {
    parseSyncFile(['images:', `  - source: http://${HOST}/app:1`, '    target: other.example/app', ''].join('\n'), 'sync.yaml');
  } catch (err) {
    keep(err);
  }
  await copy({ from: `http://${HOST}/app:1`, to: ['other.example/app:1'] }).catch(keep);
  await push({ from: `http://${HOST}/app:1`, to: 'other.example/app:1' }).catch(keep);
  await inspect(`http://${HOST}/app:1`).catch(keep);
  await listTags(`http://${HOST}/app:1`.replace(/:1$/, '')).catch(keep);
  await inspect('http://myreg/app:1').catch(keep);
  assert.equal(said.length, 7, said.join('\n'));
  for (const m of said.slice(0, 5)) assert.ok(m.includes(LIB_ADVICE), m);
  assert.ok(said[5]!.includes(`add insecureRegistries: ["${HOST}"] for plain HTTP: "${HOST}/app"`), said[5]);
  assert.ok(said[6]!.endsWith('and, for plain HTTP, add insecureRegistries'), said[6]);
  for (const m of said) assert.doesNotMatch(m, /--insecure-registry/);
});

test('a sync target prefix written with a scheme is refused for the scheme (not as "a prefix has no tag"), with the plain-HTTP advice in the caller\'s words', async () => {
  const file = (prefix: string) => ['defaults:', `  targets: [${prefix}]`, 'images:', '  - { source: src.example/app, tags: ["1"] }', ''].join('\n');
  const lib = (() => {
    try {
      parseSyncFile(file(`http://${HOST}/mirror`), 'sync.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return 'parsed';
  })();
  assert.match(lib, /"defaults\.targets\[0\]".*a prefix has no scheme; drop "http:\/\/" and add insecureRegistries: \["reg\.example:5000"\] for plain HTTP \("reg\.example:5000\/mirror"\)/);
  assert.doesNotMatch(lib, /has no tag/);
  const dir = prefixDir();
  writeFileSync(join(dir, 'sync.yaml'), file(`http://${HOST}/mirror`));
  const r = await runMain(['sync', 'sync.yaml'], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /a prefix has no scheme; drop "http:\/\/" and add --insecure-registry reg\.example:5000 for plain HTTP.* \[E_INPUT\]$/m);
  assert.doesNotMatch(r.stderr, /insecureRegistries|has no tag/);
  // https:// and a loopback http:// need no advice beyond dropping the scheme.
  writeFileSync(join(dir, 'sync.yaml'), file('https://127.0.0.1:5000/mirror'));
  const s = await runMain(['sync', 'sync.yaml'], { cwd: dir });
  assert.equal(s.code, 2, s.stderr);
  assert.match(s.stderr, /a prefix has no scheme; drop "https:\/\/" \("127\.0\.0\.1:5000\/mirror"\).* \[E_INPUT\]$/m);
});
