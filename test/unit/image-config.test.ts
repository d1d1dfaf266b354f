import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/errors.js';
import {
  applyConfigChanges,
  DEFAULT_UNIX_PATH,
  parseEnvFlag,
  parseLabelFlag,
  parsePortFlag,
  scratchConfig,
  serializeConfig,
  type ConfigChanges,
} from '../../src/image/config.js';
import type { ImageConfig } from '../../src/image/types.js';

const DIFF = `sha256:${'d'.repeat(64)}`;
const LAYER = { diffId: DIFF, created: '1970-01-01T00:00:00Z', createdBy: 'regpush: COPY ./publish /app' };

/** A Docker-style base config with fields regpush does not model. */
function base(): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    created: '2019-01-01T00:00:00Z',
    config: {
      Hostname: '',
      Env: ['PATH=/usr/bin', 'ASPNETCORE_URLS=http://+:8080', 'DOTNET_VERSION=2.2'],
      Entrypoint: ['/docker-entrypoint.sh'],
      Cmd: ['nginx', '-g', 'daemon off;'],
      ExposedPorts: { '8080/tcp': {} },
      Labels: { maintainer: 'someone' },
      StopSignal: 'SIGQUIT',
    },
    container_config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] },
    history: [
      { created: '2019-01-01T00:00:00Z', created_by: 'ADD rootfs' },
      { created: '2019-01-01T00:00:00Z', created_by: 'ENV X=1', empty_layer: true },
    ],
    'x-unknown': [1, 2, 3],
  };
}

describe('flag parsers', () => {
  const ENV: Array<[string, [string, string] | null]> = [
    ['K=V', ['K', 'V']],
    ['K=', ['K', '']],
    ['K=a=b', ['K', 'a=b']],
    ['URLS=http://+:80', ['URLS', 'http://+:80']],
    ['=V', null],
    ['', null],
    ['K', null],
  ];
  for (const [input, want] of ENV) {
    it(`parseEnvFlag ${JSON.stringify(input)}`, () => {
      if (want) assert.deepEqual(parseEnvFlag(input), want);
      else assert.throws(() => parseEnvFlag(input), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.includes('--env'));
    });
  }
  // An argument without "=" is most often a value given alone (`--env "$TOKEN"`): never echoed.
  for (const input of ['ghp_abcsecret', '=abcsecret', 'TOKEN=abc${secret']) {
    it(`parseEnvFlag ${JSON.stringify(input)} is refused without echoing the value`, () => {
      assert.throws(() => parseEnvFlag(input), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.startsWith('invalid --env') && !/abc|secret/.test(e.message));
    });
  }

  const PORTS: Array<[string, string | null]> = [
    ['80', '80/tcp'],
    ['80/tcp', '80/tcp'],
    ['53/udp', '53/udp'],
    ['53/UDP', '53/udp'],
    ['132/sctp', '132/sctp'],
    ['65535', '65535/tcp'],
    ['080', '80/tcp'],
    ['0', null],
    ['65536', null],
    ['80/icmp', null],
    ['http', null],
    ['', null],
    ['80-90', '80-90/tcp'],
    ['60000-60001/UDP', '60000-60001/udp'],
    ['80-80', '80/tcp'],
    ['90-80', null],
    ['0-10', null],
    ['65535-65536', null],
    ['1-1025', null],
    ['80-', null],
    ['-1', null],
  ];
  for (const [input, want] of PORTS) {
    it(`parsePortFlag ${JSON.stringify(input)}`, () => {
      if (want) assert.equal(parsePortFlag(input), want);
      else assert.throws(() => parsePortFlag(input), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.includes('--port'));
    });
  }

  const LABELS: Array<[string, [string, string] | null]> = [
    ['org.opencontainers.image.source=https://x', ['org.opencontainers.image.source', 'https://x']],
    ['k=', ['k', '']],
    ['k=a=b', ['k', 'a=b']],
    ['=v', null],
    ['k', null],
    ['', null],
    ['a\nb=v', null],
    ['a\r=v', null],
    ['a\tb=v', null],
    ['a\u2028b=v', null],
    ['k=line1\nline2', ['k', 'line1\nline2']],
  ];
  for (const [input, want] of LABELS) {
    it(`parseLabelFlag ${JSON.stringify(input)}`, () => {
      if (want) assert.deepEqual(parseLabelFlag(input), want);
      else assert.throws(() => parseLabelFlag(input), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && e.message.includes('--label'));
    });
  }
});

describe('applyConfigChanges', () => {
  it('is pure and keeps unknown fields', () => {
    const b = base();
    const before = structuredClone(b);
    const out = applyConfigChanges(b, { env: ['A=1'], labels: { x: 'y' } }, LAYER);
    assert.deepEqual(b, before, 'input not mutated');
    assert.deepEqual(out['x-unknown'], [1, 2, 3]);
    assert.deepEqual(out.container_config, { Cmd: ['/bin/sh'] });
    assert.equal(out.config?.Hostname, '');
    assert.equal(out.config?.StopSignal, 'SIGQUIT');
    out.config!.Env!.push('MUT=1');
    assert.equal(b.config!.Env!.length, 3, 'output does not share arrays with input');
  });

  it('records the layer: diff_id, history entry, created', () => {
    const out = applyConfigChanges(base(), {}, { ...LAYER, comment: 'app' });
    assert.deepEqual(out.rootfs.diff_ids, [`sha256:${'1'.repeat(64)}`, DIFF]);
    assert.equal(out.history!.length, 3);
    assert.deepEqual(out.history![2], { created: LAYER.created, created_by: LAYER.createdBy, comment: 'app' });
    assert.equal(out.created, LAYER.created);
  });

  it('config-only change adds an empty_layer history entry', () => {
    const out = applyConfigChanges(base(), { user: 'app' }, undefined, { created: '2024-01-01T00:00:00Z', createdBy: 'regpush: USER app' });
    assert.equal(out.rootfs.diff_ids.length, 1);
    assert.deepEqual(out.history![2], { created: '2024-01-01T00:00:00Z', created_by: 'regpush: USER app', empty_layer: true });
    assert.equal(out.created, '2024-01-01T00:00:00Z');
    const plain = applyConfigChanges(base(), { user: 'app' }, undefined);
    assert.equal(plain.history![2]!.empty_layer, true);
    assert.equal(plain.created, '2019-01-01T00:00:00Z');
  });

  it('no changes and no layer leave the config as it was', () => {
    assert.deepEqual(applyConfigChanges(base(), {}, undefined), base());
  });

  it('does not invent history when the base has layers but no history', () => {
    const b = base();
    delete b.history;
    const out = applyConfigChanges(b, {}, LAYER);
    assert.equal(out.history, undefined);
    assert.equal(out.rootfs.diff_ids.length, 2);
  });

  it('leaves a history that does not count the base\'s layers as it is (history: [] with layers), so the image stays consistent', () => {
    const empty = base();
    empty.history = [];
    const out = applyConfigChanges(empty, { user: 'app' }, LAYER);
    assert.deepEqual(out.history, [], 'nothing appended to a history that cannot line up');
    assert.equal(out.rootfs.diff_ids.length, 2);
    // A history that counts them is appended to.
    const ok = applyConfigChanges(base(), {}, LAYER);
    assert.equal(ok.history!.filter((h) => !h.empty_layer).length, ok.rootfs.diff_ids.length);
  });

  it('env replaces the same key in place and appends new keys in order', () => {
    const out = applyConfigChanges(base(), { env: ['NEW1=a', 'ASPNETCORE_URLS=http://+:80', 'NEW2=b', 'NEW1=c'] }, undefined);
    assert.deepEqual(out.config!.Env, ['PATH=/usr/bin', 'ASPNETCORE_URLS=http://+:80', 'DOTNET_VERSION=2.2', 'NEW1=c', 'NEW2=b']);
  });

  it('env expands $NAME against the base and the earlier entries, as a Dockerfile ENV', () => {
    const out = applyConfigChanges(base(), { env: ['PATH=/app/bin:$PATH', 'APP=/app', 'DLL=${APP}/App.dll', 'V=${DOTNET_VERSION:-none}', 'LIT=\\$PATH'] }, undefined);
    assert.deepEqual(out.config!.Env, ['PATH=/app/bin:/usr/bin', 'ASPNETCORE_URLS=http://+:8080', 'DOTNET_VERSION=2.2', 'APP=/app', 'DLL=/app/App.dll', 'V=2.2', 'LIT=$PATH']);
  });

  it('env expansion on a Windows base finds the variable whatever its case', () => {
    const b = base();
    b.os = 'windows';
    b.config!.Env = ['Path=C:\\Windows'];
    const out = applyConfigChanges(b, { env: ['PATH=C:\\app;$PATH'] }, undefined);
    assert.deepEqual(out.config!.Env, ['PATH=C:\\app;C:\\Windows']);
  });

  it('env without PATH on a non-Windows base: BuildKit\'s default PATH is added before the values are expanded', () => {
    const bin = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    const scratch = applyConfigChanges(scratchConfig({ os: 'linux', architecture: 'amd64' }), { env: ['PATH=/app/bin:$PATH', 'A=1'] }, undefined);
    assert.deepEqual(scratch.config!.Env, [`PATH=/app/bin:${bin}`, 'A=1']);
    // Added even with no --env (as BuildKit does for every stage), after the base's own entries.
    const b = base();
    b.config!.Env = ['Path=/x', 'A=1'];
    assert.deepEqual(applyConfigChanges(b, {}, LAYER).config!.Env, ['Path=/x', 'A=1', `PATH=${bin}`], 'Linux keys are case-sensitive: Path is not PATH');
    // A base with PATH keeps it, even one written without "=" (BuildKit counts it as set).
    b.config!.Env = ['PATH'];
    assert.deepEqual(applyConfigChanges(b, { env: ['A=$PATH'] }, undefined).config!.Env, ['PATH', 'A=']);
    // A Windows image is left to its OS: no PATH is added, and $PATH of none is empty.
    const win = applyConfigChanges(scratchConfig({ os: 'windows', architecture: 'amd64' }), { env: ['PATH=C:\\app;$PATH'] }, undefined);
    assert.deepEqual(win.config!.Env, ['PATH=C:\\app;']);
    assert.equal(applyConfigChanges(scratchConfig({ os: 'windows', architecture: 'amd64' }), { cmd: ['x'] }, undefined).config!.Env, undefined);
  });

  it('env rejects malformed entries', () => {
    assert.throws(() => applyConfigChanges(base(), { env: ['=x'] }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /^invalid config\.env\[0\]: the variable name is empty/ });
  });

  const ENTRY_CMD: Array<[string, ConfigChanges, string[] | null, string[] | null]> = [
    // [name, changes, Entrypoint, Cmd]
    ['entrypoint without cmd resets Cmd', { entrypoint: ['dotnet', 'App.dll'] }, ['dotnet', 'App.dll'], null],
    ['entrypoint with cmd sets both', { entrypoint: ['dotnet'], cmd: ['App.dll'] }, ['dotnet'], ['App.dll']],
    ['cmd alone keeps Entrypoint', { cmd: ['run'] }, ['/docker-entrypoint.sh'], ['run']],
    ['entrypoint [] clears it and resets Cmd', { entrypoint: [] }, null, null],
    ['cmd [] clears it', { cmd: [] }, ['/docker-entrypoint.sh'], null],
    ['entrypoint [] with cmd', { entrypoint: [], cmd: ['/app/run'] }, null, ['/app/run']],
    ['nothing keeps both', {}, ['/docker-entrypoint.sh'], ['nginx', '-g', 'daemon off;']],
  ];
  for (const [name, changes, entrypoint, cmd] of ENTRY_CMD) {
    it(name, () => {
      const out = applyConfigChanges(base(), changes, LAYER);
      assert.deepEqual(out.config!.Entrypoint, entrypoint);
      assert.deepEqual(out.config!.Cmd, cmd);
    });
  }

  it('ports, volumes, labels, workdir, user merge into the base', () => {
    const out = applyConfigChanges(
      base(),
      { ports: ['80', '53/udp', '8080'], volumes: ['/data'], labels: { maintainer: 'us', v: '1' }, workdir: '/app', user: '1000:1000' },
      LAYER,
    );
    assert.deepEqual(out.config!.ExposedPorts, { '8080/tcp': {}, '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(out.config!.Volumes, { '/data': {} });
    assert.deepEqual(out.config!.Labels, { maintainer: 'us', v: '1' });
    assert.equal(out.config!.WorkingDir, '/app');
    assert.equal(out.config!.User, '1000:1000');
  });

  it('rejects a bad port, an empty volume and an empty label key', () => {
    assert.throws(() => applyConfigChanges(base(), { ports: ['99999'] }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /^invalid config\.ports\[0\] "99999": port must be 1-65535/ });
    assert.throws(() => applyConfigChanges(base(), { volumes: [''] }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /^invalid config\.volumes\[0\] "": the path is empty/ });
    assert.throws(() => applyConfigChanges(base(), { labels: { '': 'x' } }, undefined), { name: 'UsageError', code: 'E_USAGE', message: /^invalid config\.labels: the label key is empty/ });
    // From regpush.json a key arrives without going through parseLabelFlag.
    assert.throws(() => applyConfigChanges(base(), { labels: { 'a\nb': 'x' } }, undefined), (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && /one line/.test((e as Error).message));
  });

  it('creates the config object when the base has none (or null)', () => {
    for (const cfg of [undefined, null]) {
      const b: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
      if (cfg === null) b.config = null;
      const out = applyConfigChanges(b, { env: ['A=1'], ports: ['80'], labels: { a: 'b' }, volumes: ['/v'] }, LAYER);
      assert.deepEqual(out.config, { Env: [`PATH=${DEFAULT_UNIX_PATH}`, 'A=1'], ExposedPorts: { '80/tcp': {} }, Volumes: { '/v': {} }, Labels: { a: 'b' } });
      assert.deepEqual(out.history, [{ created: LAYER.created, created_by: LAYER.createdBy }]);
    }
  });

  it('a port range exposes each of its ports, as Dockerfile EXPOSE 8000-8002 does', () => {
    const out = applyConfigChanges(base(), { ports: ['8000-8002', '53-54/udp'] }, LAYER);
    assert.deepEqual(Object.keys(out.config!.ExposedPorts!).sort(), ['53/udp', '54/udp', '8000/tcp', '8001/tcp', '8002/tcp', '8080/tcp']);
  });

  it('handles null Env/Labels/ExposedPorts in the base', () => {
    const b = base();
    b.config = { Env: null, Labels: null, ExposedPorts: null, Volumes: null };
    const out = applyConfigChanges(b, { env: ['A=1'], labels: { a: 'b' }, ports: ['1'], volumes: ['/x'] }, undefined);
    assert.deepEqual(out.config, { Env: [`PATH=${DEFAULT_UNIX_PATH}`, 'A=1'], Labels: { a: 'b' }, ExposedPorts: { '1/tcp': {} }, Volumes: { '/x': {} } });
  });

  it('rejects an invalid diff_id', () => {
    assert.throws(() => applyConfigChanges(base(), {}, { ...LAYER, diffId: 'sha256:nope' }), { name: 'ProtocolError', code: 'E_PROTOCOL', message: /diff_id/ });
  });
});

describe('serializeConfig / scratchConfig', () => {
  it('serializes compactly in key order', () => {
    const bytes = serializeConfig({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, z: 1, a: 2 });
    assert.equal(bytes.toString(), '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"z":1,"a":2}');
  });

  it('scratchConfig is minimal and carries the platform', () => {
    assert.deepEqual(scratchConfig({ os: 'linux', architecture: 'arm64', variant: 'v8' }), {
      architecture: 'arm64',
      os: 'linux',
      variant: 'v8',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {},
      history: [],
    });
    assert.deepEqual(scratchConfig({ os: 'linux', architecture: 'amd64' }), {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {},
      history: [],
    });
  });

  it('a scratch config plus one layer is consistent', () => {
    const out = applyConfigChanges(scratchConfig({ os: 'linux', architecture: 'amd64' }), { cmd: ['/app/run'] }, LAYER);
    assert.deepEqual(out.rootfs.diff_ids, [DIFF]);
    assert.equal(out.history!.filter((h) => !h.empty_layer).length, out.rootfs.diff_ids.length);
    // BuildKit's PATH, which `FROM scratch` gets in a Dockerfile build too.
    assert.deepEqual(out.config, { Cmd: ['/app/run'], Env: [`PATH=${DEFAULT_UNIX_PATH}`] });
  });
});
