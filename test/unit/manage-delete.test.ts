// delete against the in-process fake registry: how many round trips its look-up of the tags costs
// (counted in rounds of requests the registry holds, not timed), what a registry that refuses
// every DELETE costs before it says so, and the token scope delete asks Quay for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteImage, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();

/** Lookups delete has in flight at once (AT_ONCE): one per connection the transport keeps to a registry. */
const AT_ONCE = 16;

/** A repository of 1000 tags: `app:1`, `keep` and `latest` on one image, 997 others on another. */
function thousandTags(reg: FakeRegistry): { digest: string } {
  const img = reg.seedImage('app', { tags: ['1', 'keep', 'latest'] });
  reg.seedImage('app', { tags: Array.from({ length: 997 }, (_, i) => `t${i}`) });
  return img;
}

test('delete looks 1000 tags up 16 at a time: 63 rounds of HEADs (it was 125, 8 at a time), never more in flight, the result the same', async () => {
  const reg = await fake();
  const img = thousandTags(reg);
  const total = 1000;
  const bound = AT_ONCE;
  // Each tag's HEAD is held until `bound` of them (or all that are left) are waiting, then the
  // round is answered at once: how many rounds there are, and how many wait at most, say how the
  // lookups are bounded, whatever the machine's speed. A client that never has `bound` in flight
  // would leave a round waiting for ever: once nothing more has come for 2 s, the rest is answered
  // as it comes, and the stall is counted.
  let waiting: (() => void)[] = [];
  let answered = 0;
  let rounds = 0;
  let most = 0;
  let stalled = 0;
  let watchdog: NodeJS.Timeout | undefined;
  const release = (): void => {
    clearTimeout(watchdog);
    const now = waiting;
    waiting = [];
    answered += now.length;
    rounds++;
    for (const answer of now) answer();
  };
  reg.fault({ kind: 'manifest', method: 'HEAD', when: (q) => q.tag !== undefined }, {
    kind: 'respond',
    respond: (req, _body, res) => {
      const m = reg.manifest(req.repo!, req.tag!)!;
      waiting.push(() => res.writeHead(200, { 'docker-content-digest': m.digest, 'content-type': m.mediaType, 'content-length': m.size }).end());
      most = Math.max(most, waiting.length);
      if (stalled || waiting.length === Math.min(bound, total - answered)) return release();
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled++;
        release();
      }, 2000);
    },
  });
  const r = await deleteImage(reg.ref(`app@${img.digest}`), fakeLibraryOptions(reg));
  assert.equal(stalled, 0, `a round never filled: at most ${most} lookups were in flight at once`);
  assert.equal(answered, total);
  assert.equal(most, bound);
  assert.equal(rounds, Math.ceil(total / bound));
  assert.deepEqual({ ...r }, { reference: `${reg.host}/app@${img.digest}`, digest: img.digest, otherTags: ['1', 'keep', 'latest'], indexTags: [] });
  assert.equal(reg.manifest('app', img.digest), undefined);
  // One request more than before: the DELETE of a manifest that is not there, answered 404 here
  // (deletes allowed), sent alongside the first lookups; then the image's own.
  assert.deepEqual(reg.requests({ method: 'DELETE' }).map((q) => [q.digest === img.digest, q.status]), [[false, 404], [true, 202]]);
});

/**
 * A registry of 1000 tags that refuses every manifest DELETE (distribution without
 * storage.delete.enabled, or a pull-through cache). Where a DELETE came before the tags' lookups,
 * they wait until it has been answered: whatever the machine's speed, its answer is in before the
 * first round of lookups is.
 */
async function refusingDeletes(): Promise<{ reg: FakeRegistry; digest: string }> {
  const reg = await fake();
  const img = thousandTags(reg);
  reg.fault({ kind: 'manifest', method: 'DELETE' }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: 'The operation is unsupported.' });
  const answeredDelete = reg.seen({ method: 'DELETE', status: 405 });
  reg.fault({ kind: 'manifest', method: 'HEAD', when: (q) => q.tag !== undefined && reg.count({ method: 'DELETE' }) > 0 }, { kind: 'hold', until: answeredDelete });
  return { reg, digest: img.digest };
}

test('delete at a registry that refuses every DELETE (405 UNSUPPORTED): found out with the first lookups, not after 1000 HEADs; E_UNSUPPORTED, exit 6, before the refusal of a tag without --force', async () => {
  const { reg, digest } = await refusingDeletes();
  const byDigest = `${reg.host}/app@${digest}`;
  const err = await deleteImage(byDigest, { ...fakeLibraryOptions(reg), retries: 0 }).then(() => undefined, (e: RegpushError) => e);
  const heads = reg.count({ method: 'HEAD', kind: 'manifest', when: (q) => q.tag !== undefined });
  assert.ok(heads <= AT_ONCE, `${heads} tags were looked up before the refusal was taken (at most one round of ${AT_ONCE})`);
  assert.equal(err?.code, 'E_UNSUPPORTED', String(err));
  assert.equal(
    err!.message,
    `${reg.host} does not allow deleting manifests: it answered 405 UNSUPPORTED to a DELETE of one that is not there, asked first so that the tags are not looked up for nothing (a pull-through cache or a read-only mirror answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage.delete.enabled); ${byDigest} was not deleted`,
  );
  assert.equal(reg.count({ method: 'DELETE' }), 1, 'the image itself is not asked to be deleted');
  assert.ok(reg.manifest('app', digest));

  // A tag without --force: the registry's refusal, not "add --force", which would only lead to it.
  const cli = await refusingDeletes();
  const lib = fakeLibraryOptions(cli.reg);
  const r = await runMain(['delete', '--retries', '0', cli.reg.ref('app:1')], { env: { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: cli.reg.host } });
  assert.equal(r.code, 6, r.stderr);
  assert.equal(r.stderr, `regpush: error: ${cli.reg.host} does not allow deleting manifests: it answered 405 UNSUPPORTED to a DELETE of one that is not there, asked first so that the tags are not looked up for nothing (a pull-through cache or a read-only mirror answers so, and takes no deletes; on a CNCF distribution registry that is neither, an operator enables deletes with storage.delete.enabled); ${cli.reg.host}/app@${cli.digest} was not deleted [E_UNSUPPORTED]\n`);
  assert.ok(cli.reg.count({ method: 'HEAD', kind: 'manifest', when: (q) => q.tag !== undefined }) <= AT_ONCE);
  assert.ok(cli.reg.manifest('app', cli.digest));
});

/** Every `scope` of every token request `reg` gets, as they come. */
function scopesAsked(reg: FakeRegistry): string[] {
  const scopes: string[] = [];
  reg.fault({ kind: 'token', when: (q) => (scopes.push(...(q.method === 'POST' ? [] : q.query.getAll('scope'))), false) }, { kind: 'status', status: 500 });
  return scopes;
}

test('delete at Quay asks its token service for pull,push, never delete (which Quay answers 400); elsewhere pull,delete', async () => {
  const USER = 'robot';
  const PASSWORD = 'quay-Password-1';
  const env = { REGPUSH_TO_USER: USER, REGPUSH_TO_PASSWORD: PASSWORD };
  // quay.io itself, reached through the fake registry standing as an HTTP proxy for it (plain
  // http: named insecure); its token service is the fake's own, on 127.0.0.1.
  const quay = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD, quay: true } });
  const img = quay.seedImage('acme/app', { tags: ['1'] });
  const asked = scopesAsked(quay);
  const lib = fakeLibraryOptions(quay);
  const r = await deleteImage(`quay.io/acme/app@${img.digest}`, {
    ...lib,
    env: { ...lib.env, ...env, HTTP_PROXY: quay.url },
    insecureRegistries: ['quay.io'],
    retries: 0,
  });
  assert.equal(r.digest, img.digest);
  assert.equal(quay.manifest('acme/app', img.digest), undefined, 'deleted');
  assert.deepEqual([...new Set(asked)], ['repository:acme/app:pull,push']);
  assert.equal(quay.count({ kind: 'token', status: 400 }), 0);

  // Any other registry: pull and delete, as distribution checks them.
  const reg = await fake({ auth: { scheme: 'bearer', user: USER, password: PASSWORD } });
  const other = reg.seedImage('acme/app', { tags: ['1'] });
  const elsewhere = scopesAsked(reg);
  await deleteImage(reg.ref(`acme/app@${other.digest}`), { ...fakeLibraryOptions(reg), env: { ...fakeLibraryOptions(reg).env, ...env }, retries: 0 });
  assert.deepEqual([...new Set(elsewhere)], ['repository:acme/app:delete,pull']);
  assert.equal(reg.manifest('acme/app', other.digest), undefined);
});
