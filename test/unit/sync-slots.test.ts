// sync's --images slots (src/sync/slots.ts): an image whose manifest reads the pull-limit gate
// holds lends its slot and takes one again when let go. One that ends while it has lent its slot
// out (a read it no longer waits for is the one let go) must take none: kept, that slot would
// never come back, and after --images such images the sync would wait for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slots, type UnitSlot } from '../../src/sync/slots.js';

/** Runs every callback already queued (promise continuations included): what can move has moved. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** A new image's slot, taking a slot; `got()` says whether it has one yet. */
function taking(slots: Slots): UnitSlot & { got: () => boolean } {
  const slot = slots.claim();
  let got = false;
  void slot.take().then(() => (got = true));
  return { ...slot, got: () => got };
}

test('an image that ends while again() waits for a slot hands the slot it gets straight on', async () => {
  const slots = new Slots(1);
  const a = slots.claim();
  await a.take();
  a.leave(); // the gate holds a's first GET: b runs meanwhile
  const b = taking(slots);
  await settle();
  assert.ok(b.got(), 'a lent its slot to b');
  let aAgain = false;
  void a.again().then(() => (aAgain = true)); // let through: waits for b's slot
  a.done(); // a ends (its source HEAD failed) before b's slot is free
  const c = taking(slots);
  await settle();
  assert.equal(c.got(), false, "the one slot is still b's");
  b.done();
  await settle();
  assert.ok(aAgain, "a's again() settled");
  assert.ok(c.got(), "b's slot went on to c, not to a, which had ended");
  // a holds nothing, so one slot is c's: d waits for it.
  const d = taking(slots);
  await settle();
  assert.equal(d.got(), false, "the one slot is c's");
  c.done();
  await settle();
  assert.ok(d.got());
});

test('an image that ends just before the gate lets its held GET go takes no slot back', async () => {
  const slots = new Slots(1);
  const a = slots.claim();
  await a.take();
  a.leave(); // the gate holds a's GET: b runs meanwhile
  const b = taking(slots);
  await settle();
  assert.ok(b.got(), 'a lent its slot to b');
  a.done(); // a ends ...
  a.back(); // ... after the gate let its held GET go, before that GET went on
  const c = taking(slots);
  await settle();
  assert.equal(c.got(), false, "the one slot is b's");
  b.done();
  await settle();
  assert.ok(c.got(), "b's slot went on to c: a took none back over the count");
});

test('an image let go takes a slot back at once, over the count, and gives it up when it ends', async () => {
  const slots = new Slots(1);
  const a = slots.claim();
  await a.take();
  a.leave();
  const b = taking(slots);
  await settle();
  a.back(); // over the count: a must not wait behind b
  const c = taking(slots);
  b.done();
  await settle();
  assert.equal(c.got(), false, "a's slot is still a's");
  a.done();
  await settle();
  assert.ok(c.got());
});
