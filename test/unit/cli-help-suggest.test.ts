/**
 * What a newcomer sees when typing: help that can be copied at 80 and 120 columns (no reference
 * broken across lines), "unknown command" with a suggestion, and hints for flags of other tools.
 * The CLI runs in-process through main() with a terminal width of our choosing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runMain } from '../fixtures/run-main.js';
import { exampleRows, wrapWords } from '../../src/cli/help-layout.js';
import { EXIT_CODES } from '../../src/errors.js';
import { reportSchema } from '../e2e/report-schema.js';

const run = (argv: string[], columns = 100) => runMain(argv, { columns });

/** The words of the Examples section, with the ` \` continuations and `#` comment marks left out. */
function exampleWords(help: string): string[] {
  const start = help.indexOf('\nExamples:\n');
  if (start < 0) return [];
  const section = help.slice(start + 11).split('\n\n')[0]!;
  return section.split(/\s+/).filter((w) => w && w !== '\\' && w !== '#').sort();
}

const COMMANDS = ['push', 'copy', 'sync', 'inspect', 'login', 'logout'];

describe('help at 80 and 120 columns', () => {
  for (const cmd of COMMANDS) {
    it(`${cmd} --help: no line wider than the terminal, no example word broken`, async () => {
      // 110 columns is the widest regpush lays out; nothing of the examples is broken there.
      const wide = await run([cmd, '--help'], 110);
      assert.equal(wide.code, 0);
      const reference = exampleWords(wide.stdout);
      assert.ok(reference.length > 0, `${cmd} has examples`);
      for (const columns of [80, 120]) {
        const r = await run([cmd, '--help'], columns);
        assert.equal(r.code, 0);
        for (const line of r.stdout.split('\n')) assert.ok(line.length <= columns, `${cmd} at ${columns}: ${JSON.stringify(line)}`);
        // The same words, whole: a host split in two would show up as two unknown pieces.
        assert.deepEqual(exampleWords(r.stdout), reference, `${cmd} at ${columns}`);
        // Every line of a command wrapped onto several lines ends with a shell continuation.
        const section = r.stdout.slice(r.stdout.indexOf('\nExamples:\n'));
        const lines = section.split('\n');
        lines.forEach((l, i) => {
          if (/\\$/.test(l)) assert.ok(lines[i + 1]!.trim().length > 0 && !lines[i + 1]!.trim().startsWith('#'), `continuation after ${l}`);
        });
      }
    });
  }

  it('a long example becomes a comment line and a command wrapped at spaces', () => {
    const cmd = '$0 copy docker.io/library/nginx:1.27 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/nginx:1.27';
    const rows = exampleRows(cmd, 'Docker Hub → Amazon ECR', 80);
    assert.deepEqual(rows, [
      ['# Docker Hub → Amazon ECR', ''],
      ['regpush copy docker.io/library/nginx:1.27 \\\n123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/nginx:1.27', ''],
    ]);
    assert.deepEqual(exampleRows('$0 inspect nginx:1.27', 'Docker Hub', 80), [['regpush inspect nginx:1.27', 'Docker Hub']]);
    // Quoted words are never split.
    assert.deepEqual(wrapWords(['a', '"b c d"', 'e'], 9, '', '', ' \\'), ['a \\', '"b c d" \\', 'e']);
  });
});

describe('unknown commands and flags', () => {
  const cases: [string[], RegExp][] = [
    [['pussh'], /^regpush: error: unknown command "pussh": did you mean push\? \[E_USAGE\]$/],
    [['frobnicate', 'x'], /unknown command "frobnicate" \(commands: push, copy, sync, inspect, tags, catalog, digest, tag, untag, delete, login, logout\)/],
    // Other tools' names for what regpush calls otherwise (crane ls, skopeo list-tags, crane manifest…):
    // the regpush command that does it (was: the bare list of commands).
    [['ls'], /^regpush: error: unknown command "ls": regpush tags REPO lists the tags of a repository \[E_USAGE\]$/],
    [['list-tags', 'docker://x'], /unknown command "list-tags": regpush tags REPO lists the tags/],
    [['rm', 'reg.example.com/app@sha256:1'], /unknown command "rm": regpush delete REPO@DIGEST deletes a manifest/],
    [['manifest', 'x'], /unknown command "manifest": regpush inspect --raw REF prints a manifest/],
    [['config', 'x'], /unknown command "config": regpush inspect --config REF prints an image's config/],
    [['repos', 'reg.example.com'], /unknown command "repos": regpush catalog REGISTRY lists the repositories/],
    [['blob', 'x'], /unknown command "blob" \(commands: push, copy, sync, inspect, tags, catalog, digest, tag, untag, delete, login, logout\)/],
    [['inspekt', 'x'], /unknown command "inspekt": did you mean inspect\?/],
    [['push', '--enviroment', 'A=1', '--from', 'a', '--to', 'b'], /unknown flag --enviroment: did you mean --env\?/],
    [['push', '--environment', 'A=1', '--from', 'a', '--to', 'b'], /unknown flag --environment: did you mean --env\?/],
    // The per-registry TLS flags exist: a global --insecure / --tls-verify=false names them.
    [['push', '--insecure', '--from', 'a', '--to', 'b'], /--insecure would apply to every registry; name the registry: --tls-verify REGISTRY=false .*--insecure-registry REGISTRY/],
    [['copy', '--tls-verify=false', 'a', 'b'], /--tls-verify REGISTRY=false|name the registry/],
    [['copy', '--src-tls-verify=false', 'a', 'b'], /unknown flag --src-tls-verify: use --insecure-registry .*TLS settings: docs\/connections\.md/],
    [['push', '--creds', 'u:p', '--from', 'a', '--to', 'b'], /unknown flag --creds: use --to-user\/--to-password .*--from-user\/--from-password/],
    [['copy', '--dest-creds', 'u:p', 'a', 'b'], /unknown flag --dest-creds: use --to-user\/--to-password/],
    [['copy', '--src-creds', 'u:p', 'a', 'b'], /unknown flag --src-creds: use --from-user\/--from-password/],
    [['inspect', '--creds', 'u:p', 'a:1'], /unknown flag --creds: use --user\/--password/],
    [['push', '--form', 'a', '--to', 'b'], /unknown flag --form: did you mean --from\?/],
    [['push', '--from', 'a', '--to', 'b', 'stray'], /unknown argument stray \(see regpush --help\)/],
    // A missing argument is named, with what to give (was: yargs' "Not enough non-option
    // arguments: got 1, need at least 2", which names neither the argument nor the command).
    [['tag', 'reg.example.com/app:1'], /^regpush: error: regpush tag: missing <new-tags\.\.>, new tag\(s\) in the same repository; see regpush tag --help \[E_USAGE\]$/],
    [['tag'], /^regpush: error: regpush tag: missing <ref>, image to tag \(tag or digest\), and <new-tags\.\.>, new tag\(s\) in the same repository; see regpush tag --help/],
    [['digest', '--json'], /^regpush: error: regpush digest: missing <ref>, image reference, e\.g\. ghcr\.io\/acme\/app:1; see regpush digest --help/],
    [['login', '-u', 'me'], /^regpush: error: regpush login: missing <registry>, registry host, e\.g\. ghcr\.io, docker\.io, registry\.example\.com:5000; see regpush login --help/],
    [['catalog'], /^regpush: error: regpush catalog: missing <registry>, registry host/],
    // A positional is never offered as a flag (it was "did you mean --repo?", and `--repo X` is
    // then "missing <repo>").
    // The unknown flag leads the line (it is the cause; the missing argument follows from it).
    [['tags', '--rep', 'reg.example.com/app'], /^regpush: error: unknown flag --rep \(it took the next word as its value\); regpush tags: missing <repo>, .* \[E_USAGE\]$/],
    // --help is offered for a one-letter slip only, never as the nearest flag at two edits.
    [['tags', '--halp', 'reg.example.com/app'], /unknown flag --halp: did you mean --help\?/],
    [['catalog', '-registry', 'reg.example.com'], /^regpush: error: unknown flag -registry \(it took the next word as its value\); regpush catalog: missing <registry>, .* \[E_USAGE\]$/],
    [['digest', '-rf'], /^regpush: error: unknown flag -rf; regpush digest: missing <ref>, .* \[E_USAGE\]$/],
  ];
  for (const [argv, want] of cases) {
    it(`regpush ${argv.join(' ')}`, async () => {
      const r = await run(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, want);
      assert.match(lines[0]!, /\[E_USAGE\]$/);
      // yargs' camelCase twin of a flag (destCreds) is never shown.
      assert.doesNotMatch(lines[0]!, /[a-z][A-Z]\w*(,|\))/);
    });
  }
});

describe('the exit codes at the end of regpush --help', () => {
  it('name every exit code of the catalogue, and no other', async () => {
    const r = await run(['--help'], 200);
    assert.equal(r.code, 0);
    const line = r.stdout.slice(r.stdout.indexOf('Exit codes:')).split('\n\n')[0]!.replace(/\s*\n\s*/g, ' ');
    // "0 ok, 1 internal error, 2 usage/bad input, …": the number that starts each comma-separated item.
    const listed = [...line.slice('Exit codes:'.length).matchAll(/(?:^|,)\s*(\d+) /g)].map((m) => Number(m[1]));
    const catalogue = [...new Set([0, ...Object.values(EXIT_CODES)])].sort((a, b) => a - b);
    assert.deepEqual(listed, catalogue, line);
  });
});

describe('the --json members a help example names', () => {
  // `regpush tag --help` named six of the seven members tag --json always prints (mediaType was missing).
  for (const cmd of ['tags', 'catalog', 'digest', 'tag', 'untag']) {
    it(`${cmd} --help: every member the example names is in $defs/${cmd}Output, and every member it always has is named`, async () => {
      const r = await run([cmd, '--help'], 110);
      assert.equal(r.code, 0, r.stderr);
      // The description may be wrapped onto the next line: read it as one.
      const listed = /\{("\w+"(?:, "\w+")*)\}/.exec(r.stdout.replace(/\s+/g, ' '));
      assert.ok(listed, `${cmd} --help names the --json members`);
      const named = [...listed[1]!.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
      const schema = reportSchema().$defs[`${cmd}Output`] as { required: string[]; properties: Record<string, unknown> };
      for (const n of named) assert.ok(Object.hasOwn(schema.properties, n), `${cmd}: ${n} is in the schema`);
      for (const n of schema.required) assert.ok(named.includes(n), `${cmd}: the help names ${n}`);
    });
  }
});
