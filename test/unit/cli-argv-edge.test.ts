/**
 * How the command line is read at its edges: a single-valued flag given twice, a boolean flag given
 * a value, a repeatable flag followed by positionals, a value starting with "-", --no-X typos and a
 * number flag given a word. The CLI runs in-process through main(); every case is refused (or
 * accepted) before any request, so no registry is needed: the references name port 1 of
 * 127.0.0.1, where nothing listens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runMain } from '../fixtures/run-main.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { InputError } from '../../src/errors.js';

const SRC = '127.0.0.1:1/a:1';
const DST = '127.0.0.1:1/b:1';

const run = (argv: string[]) => runMain(argv, { env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } });

/** Exit 2, nothing on stdout, one error line ending in [code] and matching `pattern`. */
function usage(r: { code: number; stdout: string; stderr: string }, pattern: RegExp, code = 'E_USAGE'): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^regpush: error: .*\\[${code}\\]$`));
  assert.match(lines[0]!, pattern);
}

test('a single-valued flag given twice is a usage error naming it, on every command (was an internal error)', async () => {
  const cases: [string[], string][] = [
    [['copy', '--format', 'oci', '--format', 'docker', SRC, DST], 'format'],
    [['copy', '--platform', 'linux/amd64', '--platform', 'linux/arm64', SRC, DST], 'platform'],
    [['copy', '--to-user', 'a', '--to-user', 'b', '--to-password', 'x', SRC, DST], 'to-user'],
    [['copy', '--digest-file', 'a', '--digest-file', 'b', SRC, DST], 'digest-file'],
    [['copy', '--jobs=2', '--jobs=3', SRC, DST], 'jobs'],
    [['inspect', '--platform', 'linux/amd64', '--platform', 'linux/arm64', SRC], 'platform'],
    [['inspect', '--user', 'a', '--user', 'b', '--password', 'p', SRC], 'user'],
    [['tags', '--page-size', '5', '--page-size', '6', '127.0.0.1:1/a'], 'page-size'],
    [['sync', '--shard', '0/2', '--shard', '1/2', 'sync.yaml'], 'shard'],
    [['push', '--retries', '1', '--retries', '2', '--from', 'scratch', '--to', DST], 'retries'],
    [['login', '--username', 'a', '--username', 'b', '127.0.0.1:1'], 'username'],
  ];
  for (const [argv, flag] of cases) usage(await run(argv), new RegExp(`--${flag} was given 2 times; give it once`));
});

test('repeatable flags still take every value', async () => {
  // Two --to on copy: both targets reach the copy, which fails on the source (nothing listens).
  const r = await run(['copy', '--retries', '0', SRC, '--to', DST, '--to', '127.0.0.1:1/c:1']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /cannot reach 127\.0\.0\.1:1.*\[E_NETWORK\]/);
});

test('a boolean flag given a value other than true/false is refused (yargs read it as false: --dry-run=1 wrote)', async () => {
  usage(await run(['copy', '--dry-run=1', SRC, DST]), /--dry-run=1: --dry-run takes no value, or =true or =false/);
  usage(await run(['copy', '--quiet=yes', SRC, DST]), /--quiet=yes: --quiet takes no value/);
  usage(await run(['push', '--from', 'scratch', '--to', DST, '--json=on']), /--json=on: --json takes no value/);
  usage(await run(['inspect', '--raw=TRUE', SRC]), /--raw=TRUE: --raw takes no value/);
  usage(await run(['copy', '--dryRun=1', SRC, DST]), /--dryRun=1: --dryRun takes no value/);
  // true and false are what yargs understands: the command goes on (to the --retries check here).
  usage(await run(['copy', '--dry-run=true', '--retries', '99', SRC, DST]), /--retries must be a whole number from 0 to 20 \(got 99\)/);
  usage(await run(['copy', '--dry-run=false', '--retries', '99', SRC, DST]), /--retries must be a whole number/);
  // After "--" nothing is a flag: a word there that starts with "-" is no argument either.
  usage(await run(['copy', SRC, '--', '--dry-run=1']), /after "--" every word is an argument, and --dry-run=1 cannot be one/);
});

test('the boolean-value guard holds when flags come before the command, for one-letter aliases and for --no-X=VALUE', async () => {
  // The command was taken to be the first word without a dash, here the value "2" or "127.0.0.1:1":
  // no command's flags were checked and --dry-run=1 ran for real.
  usage(await run(['--retries', '2', 'copy', '--dry-run=1', SRC, DST]), /--dry-run=1: --dry-run takes no value, or =true or =false/);
  usage(await run(['--insecure-registry', '127.0.0.1:1', 'copy', '--dry-run=yes', SRC, DST]), /--dry-run=yes: --dry-run takes no value/);
  usage(await run(['--retries', '2', 'push', '--dry-run=1', '--from', 'scratch', '--to', DST]), /--dry-run=1: --dry-run takes no value/);
  // -q=yes was read as quiet=false without a word.
  usage(await run(['copy', '-q=yes', SRC, DST]), /-q=yes: -q takes no value, or =true or =false/);
  usage(await run(['copy', '--q=yes', SRC, DST]), /--q=yes: --q takes no value/);
  usage(await run(['copy', '-q=true', '--retries', '99', SRC, DST]), /--retries must be a whole number/);
  // --no-clobber=true was reported as the unknown flag --no-no-clobber.
  usage(await run(['copy', '--no-clobber=true', SRC, DST]), /--no-clobber=true: --no-clobber takes no value; give --no-clobber alone, or --clobber=true or =false/);
  usage(await run(['copy', '--no-dry-run=1', SRC, DST]), /--no-dry-run=1: --no-dry-run takes no value; give --no-dry-run alone, or --dry-run=true or =false/);
  usage(await run(['copy', '--noClobber=1', SRC, DST]), /--noClobber=1: --noClobber takes no value; give --noClobber alone, or --clobber=true/);
});

test('--insecure-registry takes one value: the references after it stay positionals', async () => {
  // It was an array flag: `--insecure-registry HOST SRC DST` swallowed both references.
  const r = await run(['copy', '--retries', '0', '--insecure-registry', '127.0.0.1:1', SRC, DST]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /cannot reach 127\.0\.0\.1:1.*\[E_NETWORK\]/);
  const i = await run(['inspect', '--retries', '0', '--insecure-registry', '127.0.0.1:1', '--insecure-registry', '127.0.0.2:1', SRC]);
  assert.equal(i.code, 5, i.stderr);
  assert.match(i.stderr, /cannot reach 127\.0\.0\.1:1.*\[E_NETWORK\]/);
});

test('a value starting with "-" after a flag that takes one: the hint says to join them with "="', async () => {
  usage(await run(['push', '--from', 'scratch', '--to', DST, '--entrypoint', '/bin/sh', '--entrypoint', '-c']), /unknown flag -c; to give --entrypoint a value starting with "-", join them: --entrypoint=-c/);
  usage(await run(['push', '--from', 'scratch', '--to', DST, '--cmd', 'node', '--cmd', '--max-old-space-size=4096']), /join them: --cmd=--max-old-space-size=4096/);
  // A typo of a known flag after a valued flag is still called a typo.
  usage(await run(['copy', '--platform', '--formt', 'oci', SRC, DST]), /unknown flag --formt: did you mean --format\?/);
  // A lone unknown short flag is named as a flag, not as an argument.
  usage(await run(['copy', '-z', SRC, DST]), /unknown flag -z/);
  // A value starting with "-" and a digit, not a number (it was "unknown argument 1").
  usage(await run(['sync', '--shard', '-1/4', 'sync.yaml']), /^regpush: error: unknown flag -1\/4; to give --shard a value starting with "-", join them: --shard=-1\/4 \[E_USAGE\]$/);
  usage(await run(['copy', '--tag', '-1x', SRC, DST]), /^regpush: error: unknown flag -1x; to give --tag a value starting with "-", join them: --tag=-1x \[E_USAGE\]$/);
  // A negative number is the flag's value: no hint about it where yargs complains of something else.
  const r = await run(['copy', '--retries', '-10']);
  usage(r, /at least one target|missing/);
  assert.doesNotMatch(r.stderr, /-10/);
});

test('a word of one dash and several letters is named once, as typed (yargs splits -jar into -j -a -r: the error went letter by letter)', async () => {
  const one = async (argv: string[], pattern: RegExp) => {
    const r = await run(argv);
    usage(r, pattern);
    assert.doesNotMatch(r.stderr, /unknown argument/, r.stderr);
  };
  await one(['push', '--from', 'scratch', '--to', DST, '--entrypoint', 'java', '--entrypoint', '-jar', 'app.jar'], /: unknown flag -jar; to give --entrypoint a value starting with "-", join them: --entrypoint=-jar \[/);
  // Go-style single-dash flags: the --flag meant.
  await one(['push', '-from', 'scratch', '-to', DST], /: unknown flag -from: did you mean --from\?; unknown flag -to: did you mean --to\? \[/);
  await one(['copy', '-quiet', SRC, DST], /: unknown flag -quiet: did you mean --quiet\? \[/);
  await one(['copy', '-platfrm', 'linux/amd64', SRC, DST], /: unknown flag -platfrm: did you mean --platform\? \[/);
  await one(['copy', '-xyz', SRC, DST], /: unknown flag -xyz \(see regpush --help\)/);
  // yargs complains of a missing positional first (-raw's "w" took the reference): the hint still comes.
  // It leads, as the cause, saying it took the reference as its value.
  await one(['inspect', '-raw', SRC], /^regpush: error: unknown flag -raw: did you mean --raw\? \(it took the next word as its value\); regpush inspect: missing <ref>/);
});

test('an unknown flag that took the positional as its value leads the error, before the missing positional it caused; the word taken is not shown', async () => {
  const r = await run(['tags', '--bogus', 'x/y']);
  usage(r, /^regpush: error: unknown flag --bogus \(it took the next word as its value\); regpush tags: missing <repo>, .* \[E_USAGE\]$/);
  assert.doesNotMatch(r.stderr, /x\/y/);
  // A misspelt password flag: its value is read as the unknown flag's, and never echoed.
  const p = await run(['tags', '--pasword', 'hunter2secret', 'x/y']);
  assert.doesNotMatch(p.stderr, /hunter2secret/);
  // Given with "=", it took nothing: still named first, without the note.
  usage(await run(['tags', '--bogus=1']), /^regpush: error: unknown flag --bogus; regpush tags: missing <repo>/);
});

test('--no-X that matches no flag is named as typed, with the --no- form of the closest flag', async () => {
  const r = await run(['copy', '--no-such', SRC, DST]);
  usage(r, /unknown flag --no-such/);
  assert.doesNotMatch(r.stderr, /did you mean push/);
  usage(await run(['copy', '--no-clober', SRC, DST]), /unknown flag --no-clober: did you mean --no-clobber\?/);
});

test('--no-X of a flag that takes a value is refused, naming what to give instead (yargs set it to false: --no-tag wrote the tag "false", --no-workdir crashed)', async () => {
  const push = (...flags: string[]) => run(['push', '--from', 'scratch', '--to', DST, ...flags]);
  usage(await push('--no-entrypoint'), /^regpush: error: --no-entrypoint: --entrypoint takes a value; to clear it give --entrypoint "" \[E_USAGE\]$/);
  usage(await push('--no-cmd'), /--no-cmd: --cmd takes a value; to clear it give --cmd ""/);
  usage(await push('--no-healthcheck'), /--no-healthcheck: --healthcheck takes a value; to turn the base's check off give --healthcheck NONE/);
  usage(await push('--no-workdir'), /--no-workdir: --workdir takes a value, so it has no --no- form/);
  usage(await push('--no-platform'), /--no-platform: --platform takes a value, so it has no --no- form/);
  usage(await push('--no-to'), /--no-to: --to takes a value/);
  usage(await push('--entrypoint', 'node', '--no-entrypoint'), /--no-entrypoint: --entrypoint takes a value/);
  usage(await run(['copy', '--no-tag', SRC, DST]), /--no-tag: --tag takes a value, so it has no --no- form/);
  usage(await run(['copy', '--no-tag=x', SRC, DST]), /--no-tag=x: --tag takes a value/);
  // A number flag got 0 and a choice flag false, without a word.
  usage(await run(['copy', '--no-retries', SRC, DST]), /--no-retries: --retries takes a value/);
  usage(await run(['--no-retries', 'copy', SRC, DST]), /--no-retries: --retries takes a value/);
  usage(await run(['copy', '--no-format', SRC, DST]), /--no-format: --format takes a value/);
  usage(await run(['copy', '--no-tls-verify', SRC, DST]), /--no-tls-verify: --tls-verify takes a value; name the registry: --tls-verify REGISTRY=false/);
  usage(await run(['login', '--no-username', '127.0.0.1:1']), /--no-username: --username takes a value/);
  // On/off flags keep their --no- form; after "--" nothing is a flag.
  usage(await run(['copy', '--no-clobber', '--retries', '99', SRC, DST]), /--retries must be a whole number/);
  usage(await run(['copy', SRC, '--', '--no-tag']), /after "--" every word is an argument, and --no-tag cannot be one/);
});

test('words after "--" are positionals, read and checked as those before it (yargs dropped them: copy SRC DST -- --retries exited 0)', async () => {
  // A word that starts with "-" can be no reference, tag or registry: refused, never dropped.
  for (const argv of [
    ['copy', SRC, DST, '--', '--retries'],
    ['copy', '--retries', '0', SRC, '--', DST, '-x'],
    ['tag', SRC, '2', '--', '--force'],
    ['tag', SRC, '--', '-3'],
    ['push', '--from', 'scratch', '--to', DST, '--', '--tag'],
  ]) {
    usage(await run(argv), new RegExp(`after "--" every word is an argument, and ${argv.at(-1)} cannot be one: no reference, tag or registry starts with "-"`));
  }
  // Each is a positional: a bad one is refused as such one would be before "--" (each was ignored).
  usage(await run(['copy', SRC, DST, '--', 'Bad']), /invalid image reference "Bad"/, 'E_REFERENCE');
  usage(await run(['tag', SRC, '2', '--', 'b@d']), /new tag "b@d" is not a plain tag/, 'E_REFERENCE');
  usage(await run(['inspect', SRC, '--', 'extra']), /unknown argument extra/);
  usage(await run(['push', '--from', 'scratch', '--to', DST, '--', 'extra']), /unknown argument extra/);
  usage(await run(['sync', '--', 'a.yaml', 'b.yaml']), /unknown argument b\.yaml/);
  // A flag that takes a value, just before "--", has none: the next word does not become it.
  usage(await run(['login', '-u', 'x', '--password', '--', '127.0.0.1:1']), /^regpush: error: --password has no value: the "--" after it ends the flags/);
  usage(await run(['copy', SRC, '--to', '--', DST]), /--to has no value/);
  // Good ones reach the command, which goes on to its request (nothing listens: E_NETWORK): copy's
  // target and tag's new tag were dropped ("copy needs at least one target", "missing <new-tags..>").
  for (const argv of [['copy', SRC, '--', DST], ['copy', '--', SRC, DST, '127.0.0.1:1/c:1'], ['tag', SRC, '--', '2', '3'], ['inspect', '--', SRC]]) {
    const r = await run(['--retries', '0', ...argv]);
    assert.equal(r.code, 5, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /cannot reach 127\.0\.0\.1:1.*\[E_NETWORK\]/, argv.join(' '));
  }
});

test('a number flag given a word is a usage error naming the flag (was "got NaN")', async () => {
  usage(await run(['copy', '--jobs', 'abc', SRC, DST]), /--jobs needs a number/);
  usage(await run(['copy', '--retries', 'many', SRC, DST]), /--retries needs a number/);
  usage(await run(['tags', '--page-size', 'x', '127.0.0.1:1/a']), /--page-size needs a number/);
});

test('a number flag given a blank value or none is a usage error (yargs read "" as 0: --gzip-level "$UNSET" stored the layer uncompressed, --retries "$UNSET" ran without retries)', async () => {
  usage(await run(['copy', '--retries', '', SRC, DST]), /^regpush: error: --retries needs a number \(got an empty value\)/);
  usage(await run(['copy', '--retries=', SRC, DST]), /--retries needs a number \(got an empty value\)/);
  usage(await run(['copy', '--jobs= ', SRC, DST]), /--jobs needs a number \(got an empty value\)/);
  usage(await run(['push', '--gzip-level', '', '--from', SRC, '--to', DST, '--app', '/nonexistent-app']), /--gzip-level needs a number/);
  usage(await run(['tags', '--page-size', '', '127.0.0.1:1/a']), /--page-size needs a number/);
  usage(await run(['sync', '--images', '', 'sync.yaml']), /--images needs a number/);
  // No value at all: last on the line, or before another flag (yargs dropped the flag).
  usage(await run(['copy', SRC, DST, '--retries']), /--retries needs a number \(got none\)/);
  usage(await run(['copy', '--retries', '--jobs', '2', SRC, DST]), /--retries needs a number \(got none\)/);
  // A negative number is a value (refused by its own range check), and after "--" nothing is a flag.
  usage(await run(['copy', '--retries', '-1', SRC, DST]), /--retries must be a whole number from 0 to 20 \(got -1\)/);
});

test('a blank --digest-file is refused before any request (it was taken for none: the image was written, no file, exit 0)', async () => {
  usage(await run(['copy', '--digest-file', '', SRC, DST]), /^regpush: error: --digest-file needs a file name \(got an empty value\)/);
  usage(await run(['push', '--digest-file=', '--from', SRC, '--to', DST, '--app', '/nonexistent-app']), /--digest-file needs a file name/);
});

test('a --digest-file that cannot be written (no such directory, a directory) is E_INPUT before any request (it was found after the image was written: exit 2 with the image pushed)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-digest-file-'));
  try {
    const refused = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp) => usage(r, pattern, 'E_INPUT');
    refused(await runMain(['copy', '--digest-file', join(dir, 'missing', 'd.txt'), SRC, DST], { env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } }), /--digest-file .*missing\/d\.txt: cannot write \(ENOENT: no directory .*missing\); nothing was sent/);
    refused(await runMain(['copy', '--digest-file', dir, SRC, DST], { env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } }), /cannot write \(EISDIR: it is a directory\)/);
    // Relative to the working directory, as the file is written.
    refused(await runMain(['push', '--digest-file', 'missing/d.txt', '--from', SRC, '--to', DST, '--app', dir], { cwd: dir, env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } }), /--digest-file missing\/d\.txt: cannot write \(ENOENT: no directory .*missing\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new --digest-file on a pseudo-filesystem (/proc, /sys) is E_INPUT before any request, also for root, whom access() lets write there; an existing file there is checked as before, and no file is made by the check', { skip: process.platform !== 'linux' || !existsSync('/proc/self') ? 'needs Linux /proc' : false }, async () => {
  const refused = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp) => usage(r, pattern, 'E_INPUT');
  refused(await runMain(['copy', '--digest-file', '/proc/regpush-digest', SRC, DST], { env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } }), /^regpush: error: --digest-file \/proc\/regpush-digest: cannot write \((?:\/proc is on a proc pseudo-filesystem, which takes no new file|EACCES)\); nothing was sent \[E_INPUT\]$/m);
  if (existsSync('/sys/kernel')) refused(await runMain(['push', '--digest-file', '/sys/kernel/regpush-digest', '--from', SRC, '--to', DST, '--app', '/nonexistent-app'], { env: { REGPUSH_IDLE_TIMEOUT_MS: '2000' } }), /--digest-file \/sys\/kernel\/regpush-digest: cannot write \((?:\/sys\/kernel is on a sysfs pseudo-filesystem, which takes no new file|EACCES)\); nothing was sent/);
  const { checkDigestFileTarget } = await import('../../src/cli/report.js');
  // An existing file there (/proc/self/status, mode 0444) gets its own write check, as before, and
  // not the pseudo-filesystem's: access(2) says no (EACCES) to a user and yes to root, and so does
  // the check. Was: a .catch() that asserted nothing when the call resolved, as it does for root.
  const writable = await access('/proc/self/status', constants.W_OK).then(() => true, () => false);
  if (writable) await assert.doesNotReject(checkDigestFileTarget('/proc/self/status', '/'), 'root: the write check passes, and no pseudo-filesystem refusal for an existing file');
  else {
    await assert.rejects(
      checkDigestFileTarget('/proc/self/status', '/'),
      (e: unknown) => e instanceof InputError && e.code === 'E_INPUT' && e.message === '--digest-file /proc/self/status: cannot write (EACCES); nothing was sent',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'regpush-digest-file-'));
  try {
    await checkDigestFileTarget('d.txt', dir);
    assert.equal(existsSync(join(dir, 'd.txt')), false, 'the check made no file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a --digest-file that exists is checked for writing itself, not its folder: /dev/null as a user who cannot write /dev passes (checked as nobody, where the machine lets root run as one)', { skip: process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser') ? 'needs root and runuser' : false }, () => {
  const report = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'cli', 'report.js')).href;
  const script = `import(${JSON.stringify(report)}).then((m) => m.checkDigestFileTarget(process.argv[1], '/')).then(() => console.log('ok'), (e) => console.log(e.message))`;
  const check = (file: string) => execFileSync('/usr/sbin/runuser', ['-u', 'nobody', '--', process.execPath, '-e', script, file], { encoding: 'utf8' }).trim();
  assert.equal(check('/dev/null'), 'ok', 'a writable file in a folder the user cannot write');
  assert.match(check('/dev/regpush-new-file'), /^--digest-file \/dev\/regpush-new-file: cannot write \(EACCES\); nothing was sent$/, 'a new file in that folder');
});

test('push --env with a malformed ${…} is refused before any request, as a value without "=" is (was found only once the configs were composed, after the base and target were contacted)', async () => {
  for (const env of ['A=${B', 'A=${1}', 'A=${B:?unset}']) {
    const r = await run(['push', '--retries', '0', '--from', SRC, '--env', env, '--to', DST]);
    usage(r, /invalid --env A: /, 'E_USAGE');
  }
});

test('push --env errors name the variable, never the value (env values carry tokens; CI logs are public)', async () => {
  usage(await run(['push', '--retries', '0', '--from', SRC, '--env', 'TOKEN=abc${secret', '--to', DST]), /^(?!.*(abc|secret)).*invalid --env TOKEN: the "\$\{" at offset 3 of its value has no closing "\}"/, 'E_USAGE');
  // A value given alone, as `--env "$TOKEN"` does: no "=", and not echoed either.
  usage(await run(['push', '--retries', '0', '--from', SRC, '--env', 'abcsecret', '--to', DST]), /^(?!.*(abc|secret)).*invalid --env: expected KEY=VALUE/, 'E_USAGE');
});

test('inspect and the registry commands read --user / --password / --password-stdin alike: messages name those flags, and both password sources at once are refused', async () => {
  for (const cmd of [['inspect', SRC], ['tags', '127.0.0.1:1/a'], ['digest', SRC]]) {
    usage(await run([cmd[0]!, '--user', 'bob', cmd[1]!]), /--user was given without --password \(or --password-stdin\)/);
    usage(await run([cmd[0]!, '--password', 'pw', cmd[1]!]), /--password was given without --user/);
    usage(await run([cmd[0]!, '--user', 'bob', '--password', 'pw', '--password-stdin', cmd[1]!]), /give either --password or --password-stdin, not both/);
  }
});

test('a password or token starting with "-" after its flag is never echoed in the hint (it was never parsed, so nothing scrubs it)', async () => {
  const secret = '-Xyz9secret';
  for (const argv of [
    ['login', '-u', 'admin', '--password', secret, '127.0.0.1:1'],
    ['login', '-u', 'admin', '-p', secret, '127.0.0.1:1'],
    ['push', '--from', 'scratch', '--to', DST, '--to-password', secret],
    ['copy', '--from-password', secret, SRC, DST],
  ]) {
    const r = await run(argv);
    usage(r, /starts with "-", which reads as a flag; join them: --[\w-]*password=VALUE/);
    assert.ok(!r.stderr.includes('Xyz9secret') && !r.stdout.includes('Xyz9secret'), `${argv[0]} ${argv.at(-2)}: ${r.stderr}`);
  }
});

test('-pVALUE and -uVALUE, the value attached as Docker and Podman take them, are the password and user name (was: "unknown flag -p<password>")', async (t) => {
  const pings = t.mock.method(HttpRegistryClient.prototype, 'ping', async () => {});
  const home = mkdtempSync(join(tmpdir(), 'regpush-attached-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const r = await runMain(['login', '-ualice', '-palice-secret-pw1', 'registry.example.com'], { env: { HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Login Succeeded: registry.example.com\n');
  assert.equal(pings.mock.callCount(), 1);
  const auths = JSON.parse(readFileSync(join(home, '.docker', 'config.json'), 'utf8')).auths;
  assert.equal(Buffer.from(auths['registry.example.com'].auth, 'base64').toString(), 'alice:alice-secret-pw1');
  // `-p=VALUE` too.
  const eq = await runMain(['login', '-u', 'bob', '-p=bob-pw-2', 'registry.example.com'], { env: { HOME: home } });
  assert.equal(eq.code, 0, eq.stderr);
  assert.equal(Buffer.from(JSON.parse(readFileSync(join(home, '.docker', 'config.json'), 'utf8')).auths['registry.example.com'].auth, 'base64').toString(), 'bob:bob-pw-2');
});

test('a secret given in the same word as its flag, or after a secret flag, is never echoed in an error line', async () => {
  for (const argv of [
    ['push', '-pSecret9pw', '--from', 'scratch', '--to', DST],
    ['inspect', '-pSecret9pw', SRC],
    ['copy', '--password=Secret9pw', SRC, DST],
    ['login', '--password-stdin=Secret9pw', '-u', 'a', '127.0.0.1:1'],
    ['login', '--no-password=Secret9pw', '-u', 'a', '127.0.0.1:1'],
    ['--password', 'Secret9pw', 'login'],
    ['inspect', '--password', '--Secret9pw', SRC],
    ['tags', '--password', 'Secret9pw', 'Secret9pw', '127.0.0.1:1/a'],
  ]) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim().split('\n').at(-1)!, / \[E_USAGE\]$/, argv.join(' '));
    assert.ok(!r.stderr.includes('Secret9pw') && !r.stdout.includes('Secret9pw'), `${argv.join(' ')}: ${r.stderr}`);
  }
  usage(await run(['push', '-pSecret9pw', '--from', 'scratch', '--to', DST]), /unknown flag -p\*\*\*/);
});

test('logout reads no password: --password-stdin is an unknown flag there (it was accepted and did nothing), and its help does not list it', async () => {
  usage(await run(['logout', '--password-stdin', '127.0.0.1:1']), /unknown flag --password-stdin/);
  const help = await run(['logout', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.doesNotMatch(help.stdout, /password-stdin/);
  assert.match(help.stdout, /--debug/);
});

test('a command\'s flag given without a command gets the missing-command message alone; a flag no command has is still named', async () => {
  const missing = 'Name a command: push, copy, sync, inspect, tags, catalog, digest, tag, untag, delete, login or logout (see regpush --help)';
  for (const argv of [['--debug'], ['--json'], ['--retries', '3'], ['--to', DST]]) {
    const r = await run(argv);
    usage(r, /Name a command/);
    assert.equal(r.stderr, `regpush: error: ${missing} [E_USAGE]\n`, argv.join(' '));
  }
  usage(await run(['--bogus']), /^regpush: error: Name a command: .* \(unknown flag --bogus\) \[E_USAGE\]$/);
});
