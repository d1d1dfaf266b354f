// The bench's goal evaluation (scripts/bench/report.mjs, and wan.mjs's wanGoals): a row that ran
// but gave no valid run is a FAIL with its reason, never "n/a"; a goal computed from only some
// valid runs says how many; a row that was not run stays n/a.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit/ → repository root

interface Run { round: string; ok: boolean; wallMs: number; cpuMs?: number; peakRss?: number; diskWrite?: number; invalid?: string; error?: string; baseBytes?: number; code?: number }
interface Summary { id: string; runs: number; valid: number }
interface Goal { goal: string; value?: number; bound?: number; pass?: boolean; detail?: string; info?: boolean }
interface ReportModule {
  summarize(s: { id: string; label: string; group: string; skipReason?: string }, runs: Run[]): Summary;
  goals(byId: Record<string, Summary>, results: Record<string, Run[]>, o: { gzipLevel: number; large: boolean; largeSkip?: string }): Goal[];
  goalsTable(gs: Goal[]): string;
}
interface WanGoal { name: string; pass?: boolean; reason?: string; limit?: number }
interface WanModule {
  wanGoals(rows: unknown[], profile: { id: string; rttMs: number; mbit: number }, auth: string, startup: number): WanGoal[];
}

const ok = (round: string, wallMs: number, extra: Partial<Run> = {}): Run => ({ round, ok: true, wallMs, cpuMs: wallMs, peakRss: 50e6, diskWrite: 0, ...extra });
const failed = (round: string): Run => ({ round, ok: false, code: 1, wallMs: 100, peakRss: 50e6, diskWrite: 0, error: 'exit 1: connection refused' });

/** byId and results as bench.mjs builds them, from rows → runs (a row given as a string is skipped for that reason). */
async function evaluate(rows: Record<string, Run[] | string>, o: { large?: boolean; largeSkip?: string } = {}): Promise<{ gs: Goal[]; table: string }> {
  const report = (await import(`${ROOT}scripts/bench/report.mjs`)) as ReportModule;
  const results: Record<string, Run[]> = {};
  const byId: Record<string, Summary> = {};
  for (const [id, runs] of Object.entries(rows)) {
    const skipReason = typeof runs === 'string' ? runs : undefined;
    results[id] = typeof runs === 'string' ? [] : runs;
    byId[id] = report.summarize({ id, label: id, group: id.startsWith('push') || id.startsWith('copy') ? 'regpush' : 'peer', skipReason }, results[id]!);
  }
  const gs = report.goals(byId, results, { gzipLevel: 6, large: o.large ?? false, largeSkip: o.largeSkip });
  return { gs, table: report.goalsTable(gs) };
}
const goal = (gs: Goal[], prefix: string): Goal => {
  const g = gs.find((x) => x.goal.startsWith(prefix));
  assert.ok(g, `goal ${prefix}`);
  return g;
};

test('a regpush row that ran without a valid run FAILs its goals, with the reason', async () => {
  const { gs, table } = await evaluate({
    'push-cold': [failed('r1'), ok('r2', 900, { invalid: 'expected every base blob streamed, got skipped' })],
    'cfy-cold': [ok('r1', 2000), ok('r2', 2100)],
  });
  const g = goal(gs, 'cold push / containerify cold');
  assert.equal(g.pass, false);
  assert.match(g.detail!, /no valid run/);
  assert.match(g.detail!, /push-cold: no valid run of 2/);
  assert.match(table, /\| cold push \/ containerify cold \| n\/a \| ≤ 0.4 \| \*\*FAIL\*\* \(no valid run/);
});

test('a peer row that ran without a valid run FAILs the goal too (it cannot be shown met)', async () => {
  const { gs } = await evaluate({ 'copy-cold': [ok('r1', 700)], 'skopeo-cold': [failed('r1')] });
  const g = goal(gs, 'copy cold / skopeo copy cold');
  assert.equal(g.pass, false);
  assert.match(g.detail!, /skopeo-cold: no valid run of 1 \(exit 1: connection refused\)/);
});

test('a goal computed from only some valid runs says how many', async () => {
  const { gs, table } = await evaluate({
    'copy-cold': [ok('r1', 700), failed('r2'), ok('r3', 720)],
    'skopeo-cold': [ok('r1', 680), ok('r2', 690), ok('r3', 700)],
  });
  const g = goal(gs, 'copy cold / skopeo copy cold');
  assert.equal(g.pass, true, 'median of the valid runs: 710 / 690');
  assert.match(g.detail!, /copy-cold 2\/3 valid/);
  assert.match(table, /PASS \(.*copy-cold 2\/3 valid\)/);
});

test('rows not run, or skipped, leave their goals n/a', async () => {
  const { gs } = await evaluate({ 'copy-cold': 'regpush copy does not work', 'skopeo-cold': [ok('r1', 680)] });
  assert.equal(goal(gs, 'copy cold / skopeo copy cold').pass, undefined);
  assert.equal(goal(gs, 'cold push / containerify cold').pass, undefined);
});

test('same-registry base bytes: summed over the runs that reported; FAIL when none did', async () => {
  let { gs } = await evaluate({ 'push-same': [ok('r1', 500, { baseBytes: 0 }), failed('r2'), ok('r3', 510, { baseBytes: 0 })] });
  let g = goal(gs, 'same-registry push: base bytes moved');
  assert.equal(g.pass, true);
  assert.equal(g.value, 0);
  assert.match(g.detail!, /2\/3 runs that reported/);
  ({ gs } = await evaluate({ 'push-same': [ok('r1', 500, { baseBytes: 113e6, invalid: 'moved 113000000 base bytes' }), failed('r2')] }));
  g = goal(gs, 'same-registry push: base bytes moved');
  assert.equal(g.pass, false, 'the run that moved bytes counts although it is invalid');
  assert.equal(g.value, 113e6);
  ({ gs } = await evaluate({ 'push-same': [failed('r1'), failed('r2')] }));
  g = goal(gs, 'same-registry push: base bytes moved');
  assert.equal(g.pass, false);
  assert.match(g.detail!, /no valid run/);
});

test('split-layer bytes: FAIL when the rows ran without a valid run', async () => {
  const { gs } = await evaluate({ 'push-onechange-1layer': [failed('r1')], 'push-onechange-split': [failed('r1')] });
  const bytes = goal(gs, 'one-file change: split push bytes');
  assert.equal(bytes.pass, false);
  assert.match(bytes.detail!, /no valid run/);
  const wall = goal(gs, 'one-file change: split push wall');
  assert.equal(wall.info, true, 'the wall ratio stays information');
});

test('WAN goals: no valid run is a FAIL with why; some valid runs are flagged', async () => {
  const { wanGoals } = (await import(`${ROOT}scripts/bench/wan.mjs`)) as WanModule;
  const p = { id: '80ms', rttMs: 80, mbit: 200 };
  const rows = [
    { id: 'push-cold', runs: 3, valid: 0, wallMs: undefined, floorMs: undefined, problems: ['exit 1: boom'] },
    { id: 'push-warm', runs: 3, valid: 2, wallMs: 300, floorMs: 340 },
    { id: 'copy-cold', runs: 0, valid: 0, skipped: 'regpush copy does not work' },
  ];
  const gs = wanGoals(rows, p, 'anon', 100);
  const by = (prefix: string) => gs.find((g) => g.name.startsWith(prefix))!;
  assert.equal(by('push cold').pass, false);
  assert.match(by('push cold').reason!, /no valid run of 3: exit 1: boom/);
  assert.equal(by('push warm').pass, true);
  assert.equal(by('push warm').reason, '2/3 valid');
  assert.equal(by('copy').pass, undefined, 'skipped: n/a');
  assert.equal(by('push same-registry').pass, undefined, 'not in the run: n/a');
});

test('--large: the 1 GiB goal says why its rows did not run, and FAILs when they ran without a valid run', async () => {
  let { gs } = await evaluate({});
  assert.equal(goal(gs, 'peak RSS ≤ 100 MB with a 1 GiB').detail, 'run with --large');
  ({ gs } = await evaluate({}, { largeSkip: '1 GiB inputs could not be made: token service answered 401' }));
  let g = goal(gs, 'peak RSS ≤ 100 MB with a 1 GiB');
  assert.equal(g.pass, undefined);
  assert.match(g.detail!, /--large given, but not run: 1 GiB inputs could not be made: token service answered 401/);
  ({ gs } = await evaluate({ 'large-push-cold': [ok('l1', 15_000, { peakRss: 84e6 })], 'large-copy-cold': [ok('l1', 6_000, { peakRss: 72e6 })] }, { large: true }));
  g = goal(gs, 'peak RSS ≤ 100 MB with a 1 GiB');
  assert.equal(g.pass, true);
  assert.equal(g.value, 84);
  ({ gs } = await evaluate({ 'large-push-cold': [failed('l1')], 'large-copy-cold': [ok('l1', 6_000, { peakRss: 72e6 })] }, { large: true }));
  g = goal(gs, 'peak RSS ≤ 100 MB with a 1 GiB');
  assert.equal(g.pass, false);
  assert.match(g.detail!, /large-push-cold: no valid run of 1/);
});
