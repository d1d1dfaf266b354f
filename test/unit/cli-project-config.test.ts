// regpush.json checking and merging with flags (pure parts).
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { anchorApp, checkProjectConfig, mergeWithFlags } from '../../src/cli/project-config.js';
import { parseAppFlag } from '../../src/layer/sources.js';
import { findProjectFile } from '../../src/cli/project-file.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const check = (data: unknown) => checkProjectConfig(data, 'regpush.json', '/proj');
function fails(data: unknown, pattern: RegExp) {
  assert.throws(() => check(data), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && pattern.test(e.message));
}

describe('checkProjectConfig', () => {
  it('turns every key into the flag values yargs would produce', () => {
    assert.deepEqual(
      check({
        from: 'alpine:3', to: 'r.example.com/app:1', tags: ['latest'], platform: 'linux/arm64', app: ['./dist', 'static:/www'], appDest: '/opt',
        workdir: '/srv', entrypoint: ['node'], cmd: [], env: { A: '1', B: 2 }, ports: [80, '53/udp'], labels: ['k=v'], volumes: '/data', user: 'node',
      }),
      {
        from: 'alpine:3', to: 'r.example.com/app:1', tag: ['latest'], platform: 'linux/arm64', app: ['/proj/dist', '/proj/static:/www'], 'app-dest': '/opt',
        workdir: '/srv', entrypoint: ['node'], cmd: [''], env: ['A=1', 'B=2'], port: ['80/tcp', '53/udp'], label: ['k=v'], volume: ['/data'], user: 'node',
      },
    );
  });
  it('a Windows image\'s paths as the flags take them (C:\\app); a relative one is still refused', () => {
    assert.deepEqual(check({ platform: 'windows/amd64', workdir: 'C:\\app', appDest: 'C:/srv', volumes: ['C:\\data', '/logs'] }), {
      platform: 'windows/amd64', workdir: 'C:\\app', 'app-dest': 'C:/srv', volume: ['C:\\data', '/logs'],
    });
    fails({ workdir: 'app' }, /"workdir" must be an absolute path inside the image \(got "app"\)/);
    fails({ volumes: ['data'] }, /"volumes" entries must be absolute paths \(got "data"\)/);
  });
  it('names the file and the key for each kind of mistake', () => {
    fails([], /^regpush\.json: the regpush settings must be a JSON object/);
    fails({ form: 'x' }, /unknown key "form" \(did you mean "from"\?\)/);
    fails({ from: 3 }, /"from" must be a string/);
    fails({ env: ['=x'] }, /"env" is invalid: .*name is empty/);
    fails({ labels: { a: { nested: 1 } } }, /"labels" must be an object/);
    fails({ ports: ['80/icmp'] }, /"ports" is invalid: .*tcp, udp or sctp/);
    fails({ volumes: ['data'] }, /"volumes" entries must be absolute paths/);
    fails({ app: [''] }, /"app" entries must not be empty/);
    fails({ cmd: 'npm start' }, /"cmd" must be a list of strings/);
    // Names every object has are no keys of ours either.
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) fails({ [key]: 'x' }, new RegExp(`unknown key "${key}"`));
  });
  it('an env mistake names the variable, never its value (values are tokens; CI logs are public)', () => {
    fails({ env: { TOKEN: 'abc${secret' } }, /^regpush\.json: "env" is invalid: TOKEN: the "\$\{" at offset 3 of its value has no closing "\}"/);
    fails({ env: { TOKEN: 'abc${secret' } }, /^(?![\s\S]*(abc|secret))/);
    fails({ env: ['=abcsecret'] }, /^(?![\s\S]*(abc|secret))[\s\S]*variable name is empty/);
    fails({ env: ['abcsecret'] }, /^(?![\s\S]*(abc|secret))[\s\S]*expected KEY=VALUE/);
  });
});

describe('mergeWithFlags', () => {
  it('flags win; env, label and port add to the file (flag last, so it wins per key)', () => {
    const merged = mergeWithFlags({ to: 'flag/app:2', env: 'A=flag', port: ['9090'], cmd: undefined } as Record<string, unknown>, check({ to: 'file/app:1', from: 'alpine:3', env: { A: 'file', B: 'file' }, ports: [80], cmd: ['x'] }));
    assert.equal(merged.to, 'flag/app:2');
    assert.equal(merged.from, 'alpine:3');
    assert.deepEqual(merged.env, ['A=file', 'B=file', 'A=flag']);
    assert.deepEqual(merged.port, ['80/tcp', '9090']);
    assert.deepEqual(merged.cmd, ['x']);
  });

  it('--entrypoint-shell / --cmd-shell replace the file\'s entrypoint / cmd (not "give one, not both" for a flag never given)', () => {
    const merged = mergeWithFlags({ 'entrypoint-shell': 'node server.js', 'cmd-shell': 'echo hi' } as Record<string, unknown>, check({ entrypoint: ['node'], cmd: ['x'] }));
    assert.equal(merged.entrypoint, undefined);
    assert.equal(merged.cmd, undefined);
    assert.equal(merged['entrypoint-shell'], 'node server.js');
  });
});

describe('findProjectFile', () => {
  it('reads a file saved with a UTF-8 byte order mark (Windows editors write one; JSON.parse refused it, and with it every push from that directory)', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'regpush-bom-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bom = '\uFEFF';
    writeFileSync(join(dir, 'package.json'), `${bom}{"name":"app","regpush":{"from":"alpine:3"}}`);
    assert.deepEqual(findProjectFile(dir)?.data, { from: 'alpine:3' });
    writeFileSync(join(dir, 'regpush.json'), `${bom}{"to":"r.example.com/app:1"}`);
    assert.deepEqual(findProjectFile(dir)?.data, { to: 'r.example.com/app:1' });
    writeFileSync(join(dir, 'other.json'), `${bom}{"user":"node"}`);
    assert.deepEqual(findProjectFile(dir, 'other.json')?.data, { user: 'node' });
    // Only a leading mark is skipped: one anywhere else is still not JSON.
    writeFileSync(join(dir, 'regpush.json'), `{${bom}"to":"x"}`);
    assert.throws(() => findProjectFile(dir), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && /regpush\.json: not valid JSON/.test(e.message));
  });

  it('refuses a key written twice in regpush.json or a --config-file, naming where (JSON.parse kept the last: "format": "bogus" then "oci" pushed as oci, the mistake unseen)', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'regpush-dup-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const refused = (source: string, line: RegExp) => (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && e.details.file === source && line.test(e.message);
    writeFileSync(join(dir, 'regpush.json'), '{"format":"bogus",\n "format":"oci"}');
    assert.throws(() => findProjectFile(dir), refused('regpush.json', /^regpush\.json: not valid JSON at line 2, column 2: duplicate key "format"$/));
    writeFileSync(join(dir, 'other.json'), '{"env": {"A": "1", "A": "2"}}');
    assert.throws(() => findProjectFile(dir, 'other.json'), refused('other.json', /^other\.json: not valid JSON at line 1, column 20: duplicate key "A"$/));
    // A syntax error is placed by line and column too.
    writeFileSync(join(dir, 'regpush.json'), '{"to": "r.example.com/app:1",}');
    assert.throws(() => findProjectFile(dir), refused('regpush.json', /^regpush\.json: not valid JSON at line 1, column 30: expected a key in double quotes, found "\}"$/));
    // package.json is read as npm reads it: a repeat outside "regpush" does not stop a push.
    rmSync(join(dir, 'regpush.json'));
    writeFileSync(join(dir, 'package.json'), '{"name":"app","scripts":{"b":"x","b":"y"},"regpush":{"from":"alpine:3"}}');
    assert.deepEqual(findProjectFile(dir)?.data, { from: 'alpine:3' });
    writeFileSync(join(dir, 'package.json'), '{"name":"app",}');
    assert.throws(() => findProjectFile(dir), refused('package.json', /^package\.json: not valid JSON at line 1, column 15: /));
  });
});

test('regpush.json app entries are split as --app splits them before their source is made absolute (a drive letter\'s colon does not split)', () => {
  const empty = () => new Error('empty');
  // POSIX host: the usual forms.
  assert.equal(anchorApp('./dist', '/proj', empty, 'linux'), '/proj/dist');
  assert.equal(anchorApp('./dist:/app', '/proj', empty, 'linux'), '/proj/dist:/app');
  assert.equal(anchorApp('x:/srv', '/proj', empty, 'linux'), '/proj/x:/srv');
  assert.equal(anchorApp('src:C:\\app', '/proj', empty, 'linux'), '/proj/src:C:\\app');
  // Windows host: an absolute source with its drive stays whole (it was cut at its colon: D:\proj\C:\publish).
  assert.equal(anchorApp('C:\\publish', 'D:\\proj', empty, 'win32'), 'C:\\publish');
  assert.equal(anchorApp('C:\\publish:C:\\app', 'D:\\proj', empty, 'win32'), 'C:\\publish:C:\\app');
  assert.equal(anchorApp('publish:C:\\app', 'D:\\proj', empty, 'win32'), 'D:\\proj\\publish:C:\\app');
  assert.equal(anchorApp('C:/publish', 'D:\\proj', empty, 'win32'), 'C:\\publish');
  // What anchorApp gives, --app reads back as the same source and destination.
  assert.deepEqual(parseAppFlag(anchorApp('C:\\publish:C:\\app', 'D:\\proj', empty, 'win32'), 'C:\\app', '--app', 'win32'), { src: 'C:\\publish', dest: 'C:\\app' });
});
