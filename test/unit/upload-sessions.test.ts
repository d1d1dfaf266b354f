// UploadSessions (src/transfer/sessions.ts): what a run knows of its open upload sessions, and
// the clause its error line gets for the ones the registry did not let it cancel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UploadSessions, type TrackedSession } from '../../src/transfer/sessions.js';

const session = (repo: string, sent: number, doing?: string): TrackedSession => ({ registry: 'r.example:5000', repo, url: `https://r.example:5000/v2/${repo}/blobs/uploads/1`, sent, doing });

test('closed and abandoned sessions: only the abandoned ones are described, with bytes and why', () => {
  const s = new UploadSessions();
  const a = session('app', 23_456_789, 'a monolithic PUT');
  const b = session('base', 10);
  const c = session('other', 512);
  for (const x of [a, b, c]) s.track(x);
  s.track(a); // idempotent
  assert.equal(s.pending, 3);
  s.closed(b);
  s.abandoned(a);
  s.abandoned(a); // once
  s.abandoned(c);
  assert.equal(s.pending, 0);
  assert.equal(
    s.describeLeft(),
    "2 upload sessions could not be cancelled and may stay in the registry's upload area until it purges stale uploads: r.example:5000/app (23.5 MB sent, cut in the middle of a monolithic PUT); r.example:5000/other (512 bytes sent, the registry did not confirm the cancel)",
  );
});

test('nothing left: no clause', async () => {
  const s = new UploadSessions();
  assert.equal(s.describeLeft(), undefined);
  await s.settled(10); // nothing open: at once
  const a = session('app', 1);
  s.track(a);
  s.closed(a);
  assert.equal(s.describeLeft(), undefined);
});

test('settled() waits for the open sessions, and counts one still open at its deadline as left', async () => {
  const s = new UploadSessions();
  const a = session('a', 1);
  const b = session('b', 2_000_000);
  s.track(a);
  s.track(b);
  setTimeout(() => s.closed(a), 20);
  const t0 = Date.now();
  await s.settled(300);
  assert.ok(Date.now() - t0 >= 250, 'waited for b until the deadline');
  assert.equal(s.pending, 0);
  assert.match(s.describeLeft()!, /^1 upload session could not be cancelled and may stay .*: r\.example:5000\/b \(2\.0 MB sent, its cancel did not finish in time\)$/);
  // Closed in time: settled() resolves as soon as the last one is, not at its deadline (a minute
  // here, so that a loaded machine's delays cannot reach it; half of it is the bound).
  const c = session('c', 1);
  s.track(c);
  setTimeout(() => s.closed(c), 20);
  const t1 = Date.now();
  await s.settled(60_000);
  assert.ok(Date.now() - t1 < 30_000, 'resolved when the last session closed, before its deadline');
  assert.equal(s.pending, 0);
});
