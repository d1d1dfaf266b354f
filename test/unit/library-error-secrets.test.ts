// The library's errors hold no secret of the run's (README: "a one-line `message` without secrets"),
// whether or not the caller passes `secrets`: a registry that echoes the credential in an OCI
// error body had inspect() reject with the password in its message (only the CLI scrubbed).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { copy, failureResult, inspect, RegistryError, RegpushError, SecretSet } from '../../src/index.js';
import { scrubbedRejections } from '../../src/redact.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const PASSWORD = 'hunter2-secret';
const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A registry that asks for Basic and then answers 400 MANIFEST_INVALID quoting what it was sent: decoded, encoded, and the header. */
async function echoingRegistry(): Promise<string> {
  const s = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    if (!auth) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}');
    }
    const encoded = auth.slice('Basic '.length);
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: `bad login ${Buffer.from(encoded, 'base64').toString()} (${encoded}) pw=${encodeURIComponent(PASSWORD)}` }] }));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const secretFree = (text: string) => {
  assert.ok(!text.includes(PASSWORD), text);
  assert.ok(!text.includes(Buffer.from(`ci:${PASSWORD}`).toString('base64')), text);
};

describe('a registry that echoes the credential in its error body', () => {
  it('inspect() without `secrets`: the message (and stack) say what the registry answered, the password and its Basic form scrubbed', async () => {
    const host = await echoingRegistry();
    const err = await inspect(`${host}/app:1`, { env: { XDG_RUNTIME_DIR: '/nonexistent' }, homeDir: '/nonexistent', insecureRegistries: [host], credentials: { from: { username: 'ci', password: PASSWORD } } }).then(
      () => assert.fail('inspect resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RegpushError);
    assert.equal(err.code, 'E_REGISTRY');
    assert.match(err.message, /answered 400 MANIFEST_INVALID: bad login ci:\*\*\* \(\*\*\*\) pw=\*\*\*$/);
    secretFree(err.message);
    secretFree(err.stack ?? '');
  });

  it('inspect() with a caller\'s sink that is no SecretSet: it still gets the secrets, and the message is scrubbed', async () => {
    const host = await echoingRegistry();
    const told: string[] = [];
    const sink = { add: (v: string | undefined) => void (v && told.push(v)), addCredential: (c: { password?: string } | undefined) => void (c?.password && told.push(c.password)) };
    const err = await inspect(`${host}/app:1`, { env: { XDG_RUNTIME_DIR: '/nonexistent' }, homeDir: '/nonexistent', insecureRegistries: [host], credentials: { from: { username: 'ci', password: PASSWORD } }, secrets: sink }).then(
      () => assert.fail('inspect resolved'),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.code, 'E_REGISTRY', 'the registry\'s 400 MANIFEST_INVALID');
    secretFree(err.message);
    assert.ok(told.includes(PASSWORD), 'the caller\'s sink was told the password');
  });

  it('copy() to it, credentials given: the message and the report in details are scrubbed; a caller\'s SecretSet still learns the password', async () => {
    const fake = fakeRegistryPool();
    const src = await fake();
    src.seedImage('app', { tags: ['1'] });
    const host = await echoingRegistry();
    const secrets = new SecretSet();
    const err = await copy({ from: src.ref('app:1'), to: [`${host}/app:1`, `${host}/other:1`], ...fakeLibraryOptions(src), insecureRegistries: [src.host, host], credentials: { to: { username: 'ci', password: PASSWORD } }, secrets }).then(
      () => assert.fail('copy resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RegpushError, String(err));
    // Both targets refused alike: the copy's error is their failure's code (README, exit 8 row), not E_PARTIAL.
    assert.equal(err.code, 'E_REGISTRY', err.message);
    secretFree(err.message);
    secretFree(JSON.stringify(err.details));
    assert.ok(secrets.size > 0);
    assert.equal(secrets.scrub(PASSWORD), '***');
  });
});

it('scrubbedRejections: errors in details that lead back to each other are each scrubbed once (the walk ends), the rejection the operation\'s own error', async () => {
  const pw = 'cyclic-secret-9';
  const outer = new RegpushError('E_PARTIAL', `outer ${pw}`);
  const inner = new RegpushError('E_DENIED', `inner ${pw}`, { details: { back: outer, note: `note ${pw}` } });
  outer.details.result = { targets: [{ error: inner }] };
  const err = await scrubbedRejections({ credentials: { to: { username: 'ci', password: pw } } }, () => Promise.reject(outer)).catch((e: unknown) => e);
  assert.equal(err, outer);
  assert.equal(outer.message, 'outer ***');
  assert.equal(inner.message, 'inner ***');
  assert.equal(inner.details.note, 'note ***');
});

it('scrubbedRejections: a password that is an operation\'s name leaves details.operation as written, so failureResult still reads the result', async () => {
  const outer = new RegpushError('E_DENIED', 'denied at copy', { details: { operation: 'copy', result: { targets: [] } } });
  const err = await scrubbedRejections({ credentials: { to: { username: 'ci', password: 'copy' } } }, () => Promise.reject(outer)).catch((e: unknown) => e);
  assert.equal(err, outer);
  assert.equal(outer.message, 'denied at ***');
  assert.equal(outer.details.operation, 'copy');
  assert.deepEqual(failureResult(outer, 'copy'), { targets: [] });
});

it('scrubbedRejections: a cause that is regpush\'s own error is scrubbed too (Node prints it with the error)', async () => {
  const pw = 'cause-secret-7';
  const cause = new RegpushError('E_DENIED', `inner ${pw}`);
  const outer = new RegpushError('E_DENIED', 'outer', { cause });
  await assert.rejects(scrubbedRejections({ credentials: { to: { username: 'ci', password: pw } } }, () => Promise.reject(outer)), (e: unknown) => e === outer);
  assert.equal(cause.message, 'inner ***');
});

describe('a registry that echoes the credential in an error body that leads to a log line', () => {
  it('copy() with a caller\'s logger: a retried upload\'s line says what the registry answered, scrubbed; the logger never sees the password', async () => {
    const fake = fakeRegistryPool();
    const src = await fake();
    src.seedImage('app', { tags: ['1'] });
    const dst = await fake({ auth: { scheme: 'basic', user: 'ci', password: PASSWORD } });
    // The first blob PUT is refused with a 500 that quotes the Basic header, decoded and as sent:
    // the upload is retried, and its progress line relays the registry's message.
    const echo = dst.fault(
      { kind: 'upload', method: 'PUT' },
      {
        kind: 'respond',
        respond: (req, _body, res) => {
          const encoded = String(req.headers.authorization ?? '').slice('Basic '.length);
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `backend hiccup for ${Buffer.from(encoded, 'base64').toString()} (${encoded})` }] }));
        },
      },
      { times: 1 },
    );
    const lines: string[] = [];
    const logger = { debug: (m: string) => void lines.push(`debug ${m}`), info: (m: string) => void lines.push(`info ${m}`), warn: (m: string) => void lines.push(`warn ${m}`) };
    await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst), credentials: { to: { username: 'ci', password: PASSWORD } }, logger });
    assert.equal(echo.hits, 1);
    assert.ok(dst.manifest('app', '1'), 'the copy landed after the retry');
    const relayed = lines.filter((l) => l.includes('backend hiccup'));
    assert.ok(relayed.length > 0, `no line relayed the registry's message:\n${lines.join('\n')}`);
    assert.ok(relayed.some((l) => l.includes('backend hiccup for ci:*** (***)')), relayed.join('\n'));
    for (const l of lines) secretFree(l);
  });
});
