// LandedBlobs (src/transfer/types.ts): the run's record of blobs landed (or landing) per
// repository, which keeps two images of a run from writing one blob into one repository at once
// (distribution/distribution#4489).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LandedBlobs } from '../../src/transfer/types.js';

/** A landing settled by hand. */
function landing(): { promise: Promise<void>; land: () => void; fail: () => void } {
  let land!: () => void;
  let fail!: () => void;
  const promise = new Promise<void>((resolve, reject) => {
    land = resolve;
    fail = () => reject(new Error('not landed'));
  });
  promise.catch(() => undefined);
  return { promise, land, fail };
}

/** Whether `p` has settled (after the microtasks queued so far have run). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

test('LandedBlobs: a failed claim is withdrawn, and the landing after it is the one later images wait for', async () => {
  for (const across of [true, false]) {
    const landed = new LandedBlobs(across);
    const first = landing();
    landed.note('reg', 'sha256:a', 'app', first.promise);
    const waited = landed.claimed('reg', 'app', 'sha256:a');
    assert.ok(waited);
    first.fail();
    assert.equal(await waited, false, 'the image that waited learns the landing failed');
    assert.equal(landed.claimed('reg', 'app', 'sha256:a'), undefined, 'the failed claim is gone');

    // The image that waited lands the blob itself, and claims it.
    const second = landing();
    landed.note('reg', 'sha256:a', 'app', second.promise);
    const later = landed.claimed('reg', 'app', 'sha256:a');
    assert.ok(later, 'an image planned during the second landing sees it');
    assert.equal(await settled(later), false, 'and waits for it (not a settled failure)');
    second.land();
    assert.equal(await later, true);
    if (across) assert.equal(await landed.find('reg', 'sha256:a'), 'app', 'the second landing is a mount source');
    else assert.equal(landed.find('reg', 'sha256:a'), undefined);
  }
});

test('LandedBlobs: the first claim of a repository stands while in flight; a claim in another repository is its own', async () => {
  const landed = new LandedBlobs();
  const first = landing();
  const other = landing();
  landed.note('reg', 'sha256:a', 'app', first.promise);
  landed.note('reg', 'sha256:a', 'app', Promise.resolve()); // a second claim while the first is in flight: not recorded
  landed.note('reg', 'sha256:a', 'lib', other.promise);
  const here = landed.claimed('reg', 'app', 'sha256:a')!;
  assert.equal(await settled(here), false);
  other.fail();
  assert.equal(await landed.claimed('reg', 'lib', 'sha256:a'), false);
  assert.equal(landed.claimed('reg', 'lib', 'sha256:a'), undefined, 'a failure in one repository withdraws only that claim');
  assert.equal(landed.claimed('reg', 'app', 'sha256:a'), here);
  first.land();
  assert.equal(await here, true);
  assert.equal(landed.claimed('reg', 'app', 'sha256:a'), here, 'a landed claim stays');
});
