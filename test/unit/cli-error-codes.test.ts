/**
 * The rule between E_USAGE and E_INPUT (src/errors.ts, README "Exit codes and error codes"): a
 * flag's value that is malformed or out of range is E_USAGE, whatever the flag sets — how the run
 * goes (--jobs, --format) or what goes into the image (--port, --stop-signal); what regpush reads
 * from a file or folder (an app source, a sync file, regpush.json) or the environment is E_INPUT:
 * an `--app` destination that is not absolute is the flag's, the same in regpush.json the file's. Both exit 2. The CLI
 * runs in-process; every case is refused before any request (the references name port 1 of
 * 127.0.0.1, where nothing listens).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMain } from '../fixtures/run-main.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const SRC = '127.0.0.1:1/a:1';
const DST = '127.0.0.1:1/b:1';
const dir = tempDirs('regpush-error-codes-')();
writeFileSync(join(dir, 'app.txt'), 'x');
writeFileSync(join(dir, 'sync.yaml'), `images:\n  - { source: ${SRC}, targets: [127.0.0.1:1/m] }\n`);
const push = (...flags: string[]) => ['push', '--retries', '0', '--from', SRC, '--to', DST, '--app', join(dir, 'app.txt'), ...flags];
/** A push whose only source is `flag VALUE` (`--app`, `--layer`), the value as typed, relative to the test's folder. */
const appFlag = (flag: '--app' | '--layer', value: string) => ['push', '--retries', '0', '--from', SRC, '--to', DST, flag, value];
/** A push whose sources come from the project file `file`. */
const project = (file: string) => ['push', '--retries', '0', '--from', SRC, '--to', DST, '--config-file', file];

const CASES: [string, string[], 'E_USAGE' | 'E_INPUT', RegExp, Record<string, string>?][] = [
  // A flag's value: E_USAGE, whichever the flag.
  ['--platform linux/ (was E_INPUT)', ['copy', '--retries', '0', '--platform', 'linux/', SRC, DST], 'E_USAGE', /invalid platform "linux\/"/],
  ['--stop-signal FOO (was E_INPUT)', push('--stop-signal', 'FOO'), 'E_USAGE', /--stop-signal must be a signal name/],
  ['--port abc (was E_INPUT)', push('--port', 'abc'), 'E_USAGE', /invalid --port "abc"/],
  ['--env without = (was E_INPUT)', push('--env', 'K'), 'E_USAGE', /invalid --env: expected KEY=VALUE/],
  ['--env with an unclosed ${ (was E_INPUT)', push('--env', 'K=${A'), 'E_USAGE', /invalid --env K: the "\$\{" at offset 0/],
  ['--label without = (was E_INPUT)', push('--label', 'k'), 'E_USAGE', /invalid --label "k"/],
  ['--user with a space (was E_INPUT)', push('--user', 'a b'), 'E_USAGE', /--user must be USER or USER:GROUP/],
  ['--workdir relative (was E_INPUT)', push('--workdir', 'app'), 'E_USAGE', /--workdir must be an absolute path/],
  ['--volume empty (was E_INPUT)', push('--volume', ''), 'E_USAGE', /--volume must be an absolute path \(got ""\)/],
  ['--chown root (was E_INPUT)', push('--chown', 'root'), 'E_USAGE', /--chown must be UID:GID/],
  ['--annotation without = (was E_INPUT)', push('--annotation', 'k'), 'E_USAGE', /invalid --annotation "k"/],
  ['--entrypoint JSON not of strings (was E_INPUT)', push('--entrypoint', '["a",1]'), 'E_USAGE', /--entrypoint: a JSON value must be an array of strings/],
  ['--healthcheck "" (was E_INPUT)', push('--healthcheck', ''), 'E_USAGE', /--healthcheck: empty command/],
  ['--healthcheck-interval 90x (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-interval', '90x'), 'E_USAGE', /--healthcheck-interval must be a duration/],
  ['--healthcheck-interval 500us (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-interval', '500us'), 'E_USAGE', /--healthcheck-interval must be 0 or at least 1ms/],
  ['--healthcheck-retries -1 (was E_INPUT)', push('--healthcheck', 'true', '--healthcheck-retries=-1'), 'E_USAGE', /--healthcheck-retries must be a whole number/],
  ['--chunk-size 5X', push('--chunk-size', '5X'), 'E_USAGE', /--chunk-size/],
  ['--jobs 0', push('--jobs', '0'), 'E_USAGE', /--jobs must be a whole number/],
  ['--gzip-level 10', push('--gzip-level', '10'), 'E_USAGE', /--gzip-level must be a whole number from 0 to 9/],
  ['--format foo', push('--format', 'foo'), 'E_USAGE', /format/],
  ['--max-wait 1x', ['sync', '--min-ratelimit', '5', '--max-wait', '1x', 'sync.yaml'], 'E_USAGE', /--max-wait must be a duration/],
  // --app and --layer: the value's syntax and destination are the flag's (were E_INPUT).
  ['--app "" (was E_INPUT)', appFlag('--app', ''), 'E_USAGE', /^regpush: error: --app: empty value; expected DIR or DIR:\/absolute\/dest \[/],
  ['--app :/srv (was E_INPUT)', appFlag('--app', ':/srv'), 'E_USAGE', /^regpush: error: --app :\/srv: empty source before ":" \[/],
  ['--app SRC: (was E_INPUT)', appFlag('--app', 'app.txt:'), 'E_USAGE', /^regpush: error: --app app\.txt:: empty destination after ":" \[/],
  ['--app SRC:relative (was E_INPUT)', appFlag('--app', 'app.txt:srv'), 'E_USAGE', /^regpush: error: --app app\.txt:srv: destination "srv" must be an absolute path inside the image \[/],
  ['--app-dest relative (was E_INPUT)', [...appFlag('--app', 'app.txt'), '--app-dest', 'srv'], 'E_USAGE', /^regpush: error: --app app\.txt: destination "srv\/" must be an absolute path inside the image \[/],
  ['--layer SRC:relative (was E_INPUT)', appFlag('--layer', 'app.txt:srv'), 'E_USAGE', /^regpush: error: --layer app\.txt:srv: destination "srv" must be an absolute path inside the image \[/],
  ['--layer PLATFORM=SRC: (was E_INPUT)', appFlag('--layer', 'linux/arm64=app.txt:'), 'E_USAGE', /^regpush: error: --layer app\.txt:: empty destination after ":" \[/],
  ['--app SRC:C:\\app into a Linux image (was E_INPUT)', appFlag('--app', 'app.txt:C:\\app'), 'E_USAGE', /^regpush: error: --app app\.txt:C:\\app: destination "C:\\app" is a Windows path, and this layer goes into a Linux image \(for a Windows base, give --platform windows\/amd64\) \[/],
  ['--layer SRC:C:\\deps with --platform all (was E_INPUT)', [...appFlag('--layer', 'app.txt:C:\\deps'), '--platform', 'all'], 'E_USAGE', /^regpush: error: --layer app\.txt:C:\\deps: with --platform all, write the destination as \/…/],
  ['--app SRC:D:\\app for Windows (was E_INPUT)', [...appFlag('--app', 'app.txt:D:\\app'), '--platform', 'windows/amd64'], 'E_USAGE', /^regpush: error: --app app\.txt:D:\\app: destination "D:\\app" is on drive D:, and a Windows layer holds only the system drive \(C:\) \[/],
  ['--mtime=-1 (was E_INPUT)', push('--mtime=-1'), 'E_USAGE', /^regpush: error: --mtime must be a whole number of seconds from 0 to 8589934591 \(2242-03-16, the most a tar header holds\), got -1 \[/],
  ['--mtime 1.5 (was E_INPUT)', push('--mtime', '1.5'), 'E_USAGE', /^regpush: error: --mtime must be a whole number of seconds from 0 to 8589934591 .*, got 1\.5 \[/],
  // The TLS flags: a malformed value is the flag's; a file it names that cannot be read or parsed is E_INPUT (test/e2e/tls.test.ts, which has a TLS registry to reach).
  ['--ca-cert without REGISTRY=', push('--ca-cert', 'ca.pem'), 'E_USAGE', /^regpush: error: --ca-cert takes REGISTRY=PATH, e\.g\. --ca-cert registry\.example\.com:5000=PATH \(got "ca\.pem"\) \[/],
  ['--client-cert with one file', push('--client-cert', 'reg=a.pem'), 'E_USAGE', /^regpush: error: --client-cert takes REGISTRY=CERT,KEY: two files, the certificate then its key \(got "reg=a\.pem"\) \[/],
  ['--tls-verify REGISTRY=maybe', push('--tls-verify', 'reg=maybe'), 'E_USAGE', /^regpush: error: --tls-verify reg= takes true or false \(got "maybe"\) \[/],
  // What regpush reads from a file or folder: E_INPUT.
  ['an --app source that does not exist', ['push', '--retries', '0', '--from', SRC, '--to', DST, '--app', join(dir, 'missing')], 'E_INPUT', /missing/],
  ['a sync file that does not exist', ['sync', 'missing.yaml'], 'E_INPUT', /missing\.yaml: cannot read the sync file/],
  ['a sync file with a bad value', ['sync', 'bad.yaml'], 'E_INPUT', /bad\.yaml: images\[0\]/],
  ['regpush.json with a bad value', ['push', '--retries', '0', '--config-file', 'bad.json', '--from', SRC, '--to', DST, '--app', join(dir, 'app.txt')], 'E_INPUT', /bad\.json: "ports"/],
  // The same mistakes as --app's and --layer's above, in regpush.json's entries: the file's.
  ['a regpush.json app entry with a relative destination', project('app.json'), 'E_INPUT', /^regpush: error: app\.json app\[0\] .*app\.txt:srv: destination "srv" must be an absolute path inside the image \[/],
  ['a regpush.json layers entry with an empty destination', project('layers.json'), 'E_INPUT', /^regpush: error: layers\.json layers\[0\] .*app\.txt:: empty destination after ":" \[/],
  ['a regpush.json app entry with a Windows destination, into a Linux image', project('windows.json'), 'E_INPUT', /^regpush: error: windows\.json app \(.*app\.txt:C:\\app\): destination "C:\\app" is a Windows path, and this layer goes into a Linux image/],
  // An insecure entry that can name no registry (daemon.json's insecure-registries refuses the same, E_INPUT).
  ['--insecure-registry with a path', ['digest', '--retries', '0', '--insecure-registry', '127.0.0.1:5000/library', SRC], 'E_USAGE', /^regpush: error: --insecure-registry "127\.0\.0\.1:5000\/library" is not a registry \(host\[:port\]\) or address range \(10\.0\.0\.0\/8\) \[/],
  ['--insecure-registry empty', ['copy', '--retries', '0', '--insecure-registry', '', SRC, DST], 'E_USAGE', /^regpush: error: --insecure-registry "" is not a registry \(host\[:port\]\)/],
  // The environment: E_INPUT.
  ['REGPUSH_INSECURE_REGISTRIES with a path', ['inspect', '--retries', '0', SRC], 'E_INPUT', /^regpush: error: REGPUSH_INSECURE_REGISTRIES entry "reg\.example:5000\/library" is not a registry \(host\[:port\]\) or address range \(10\.0\.0\.0\/8\) \[/, { REGPUSH_INSECURE_REGISTRIES: 'a.example, reg.example:5000/library' }],
  ['REGPUSH_GZIP_JOBS=99 (was E_USAGE)', push(), 'E_INPUT', /^regpush: error: REGPUSH_GZIP_JOBS must be a whole number from 1 to 64 \(got "99"\) \[/, { REGPUSH_GZIP_JOBS: '99' }],
  ['REGPUSH_IDLE_TIMEOUT_MS=soon (was E_USAGE)', ['copy', '--retries', '0', SRC, DST], 'E_INPUT', /^regpush: error: REGPUSH_IDLE_TIMEOUT_MS must be milliseconds from 100 to 3600000 \(got "soon"\) \[/, { REGPUSH_IDLE_TIMEOUT_MS: 'soon' }],
  ['REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS=5 (was E_USAGE)', ['copy', '--retries', '0', SRC, DST], 'E_INPUT', /^regpush: error: REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS must be milliseconds from 100 to 3600000 \(got "5"\) \[/, { REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS: '5' }],
  ['SOURCE_DATE_EPOCH past the tar field', push(), 'E_INPUT', /^regpush: error: SOURCE_DATE_EPOCH must be a whole number of seconds from 0 to 8589934591 .*, got "99999999999" \[/, { SOURCE_DATE_EPOCH: '99999999999' }],
];
writeFileSync(join(dir, 'app.json'), JSON.stringify({ app: ['app.txt:srv'] }));
writeFileSync(join(dir, 'layers.json'), JSON.stringify({ layers: ['app.txt:'] }));
writeFileSync(join(dir, 'windows.json'), JSON.stringify({ app: ['app.txt:C:\\app'] }));
writeFileSync(join(dir, 'bad.yaml'), `images:\n  - { source: ${SRC}, platforms: [linux/], targets: [127.0.0.1:1/m] }\n`);
writeFileSync(join(dir, 'bad.json'), '{"ports": ["abc"]}');

test('a flag\'s malformed value is E_USAGE, whatever the flag sets; a file or folder regpush reads is E_INPUT; both exit 2, one line, before any request', async () => {
  for (const [name, argv, code, pattern, env] of CASES) {
    const r = await runMain(argv, { cwd: dir, env: { REGPUSH_IDLE_TIMEOUT_MS: '2000', ...env } });
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^regpush: error: .*\\[${code}\\]$`), name);
    assert.match(lines[0]!, pattern, name);
  }
});
