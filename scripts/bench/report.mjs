// Statistics, the markdown table, the performance goals (docs/performance.md) and the JSON summary.

import { splitGoals } from './split-layers.mjs';
import { syncGoals } from './sync.mjs';

export const RSS_BOUND = 100e6; // bytes: "peak RSS ≤ 100 MB" (decimal MB, the stricter reading)

const median = (xs) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Per-scenario summary of its valid runs. */
export function summarize(s, runs) {
  const valid = runs.filter((r) => r.ok && !r.invalid);
  const walls = valid.map((r) => r.wallMs);
  return {
    id: s.id,
    label: s.label,
    group: s.group,
    runs: runs.length,
    valid: valid.length,
    skipped: s.skipReason,
    wallMs: { median: median(walls), min: walls.length ? Math.min(...walls) : undefined, max: walls.length ? Math.max(...walls) : undefined },
    cpuMs: { median: median(valid.map((r) => r.cpuMs).filter((x) => x !== undefined)) },
    registriesCpuMs: { median: median(valid.map((r) => r.registriesCpuMs).filter((x) => x !== undefined)) },
    otherLoad: { median: median(valid.map((r) => r.otherLoad).filter((x) => Number.isFinite(x))) },
    peakRss: { max: runs.length ? Math.max(...runs.map((r) => r.peakRss ?? 0)) : undefined, median: median(valid.map((r) => r.peakRss)) },
    diskWrite: { max: runs.length ? Math.max(...runs.map((r) => r.diskWrite ?? 0)) : undefined, median: median(valid.map((r) => r.diskWrite)) },
    diskCancelled: { max: runs.length ? Math.max(...runs.map((r) => r.diskCancelled ?? 0)) : undefined },
    problems: [...new Set(runs.filter((r) => !r.ok || r.invalid).map((r) => r.invalid ?? r.error ?? `exit ${r.code}`))],
    extra: s.summaryExtra?.(valid, median),
  };
}

const sec = (ms) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const mb = (b) => (b === undefined ? '–' : b === 0 ? '0' : b < 1e5 ? `${(b / 1e3).toFixed(1)} kB` : `${(b / 1e6).toFixed(1)} MB`);

/** The markdown table of every scenario. */
export function table(sums) {
  const rows = [
    '| scenario | wall median | min | max | CPU (median) | registries\' CPU (median) | peak RSS (max) | written to disk (max) | valid runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const s0 of sums) {
    const s = { ...s0, label: s0.label.replace(/\|/g, '\\|') };
    if (s.skipped) {
      rows.push(`| ${s.label} | – | – | – | – | – | – | – | not run: ${s.skipped.replace(/\|/g, '\\|').slice(0, 200)} |`);
      continue;
    }
    const note = s.valid === s.runs ? `${s.valid}/${s.runs}` : `${s.valid}/${s.runs}: ${s.problems.join('; ').replace(/\|/g, '\\|').slice(0, 160)}`;
    rows.push(`| ${s.label} | ${sec(s.wallMs.median)} | ${sec(s.wallMs.min)} | ${sec(s.wallMs.max)} | ${sec(s.cpuMs.median)} | ${sec(s.registriesCpuMs.median)} | ${mb(s.peakRss.max)} | ${mb(s.diskWrite.max)} | ${note} |`);
  }
  return rows.join('\n');
}

/**
 * Why a goal over rows `ids` cannot be measured although it should have been: a row that ran
 * (chosen, not skipped, runs recorded) without a single valid run. Such a goal FAILs — a row that
 * failed every time must not read as "n/a", as if it had not been asked for. undefined when none.
 */
export function noValidRun(byId, ids) {
  const bad = ids.map((id) => byId[id]).filter((s) => s && !s.skipped && s.runs > 0 && !s.valid);
  return bad.length ? bad.map((s) => `${s.id}: no valid run of ${s.runs}${s.problems?.length ? ` (${s.problems[0].slice(0, 120)})` : ''}`).join('; ') : undefined;
}

/** Rows among `ids` of which only some runs were valid ("push-cold 3/5 valid"), for the goal's detail; undefined when none. */
export function partlyValid(byId, ids) {
  const some = ids.map((id) => byId[id]).filter((s) => s && !s.skipped && s.valid > 0 && s.valid < s.runs);
  return some.length ? some.map((s) => `${s.id} ${s.valid}/${s.runs} valid`).join(', ') : undefined;
}

/**
 * The performance goals (docs/performance.md), each { goal, value, bound, pass (true/false/undefined = n/a), detail, paired, cpu }.
 * A goal whose rows ran but gave no valid run is a FAIL with the reason in `detail` (noValidRun);
 * one computed from only some valid runs says so in `detail` (partlyValid).
 * `value` (what PASS/FAIL uses) is the ratio of the wall-time medians. Two views that suffer less
 * from a machine shared with other work are added: `paired`, the median over rounds of the ratio
 * within the round (the interleaving makes neighbours comparable), and `cpu`, the same ratio of
 * CPU-seconds (user+sys of the process tree).
 */
export function goals(byId, results, { gzipLevel, large, largeSkip }) {
  const ok = (id) => byId[id] && !byId[id].skipped && byId[id].valid;
  const med = (id) => (ok(id) ? byId[id].wallMs.median : undefined);
  const cpu = (id) => (ok(id) ? byId[id].cpuMs.median : undefined);
  const out = [];
  const gz = `gzip${gzipLevel}`;
  const le = (v, b) => v <= b;
  const ratioGoal = (goal, num, dens, bound) => {
    const d = dens.map(med);
    const value = med(num) !== undefined && d.every((x) => x !== undefined) ? med(num) / Math.max(...d) : undefined;
    const dc = dens.map(cpu);
    const cpuRatio = cpu(num) !== undefined && dc.every((x) => x !== undefined) ? cpu(num) / Math.max(...dc) : undefined;
    const perRound = [];
    const byRound = (id) => Object.fromEntries((results[id] ?? []).filter((r) => r.ok && !r.invalid).map((r) => [r.round, r.wallMs]));
    const n = byRound(num);
    const ds = dens.map(byRound);
    for (const [round, w] of Object.entries(n)) if (ds.every((x) => x[round] !== undefined)) perRound.push(w / Math.max(...ds.map((x) => x[round])));
    const dl = dens.length > 1 ? `max(${dens.map((x) => sec(med(x))).join(', ')})` : sec(med(dens[0]));
    const broken = value === undefined ? noValidRun(byId, [num, ...dens]) : undefined;
    const partly = partlyValid(byId, [num, ...dens]);
    const g = { goal, value, bound, pass: broken ? false : value === undefined ? undefined : le(value, bound),
      detail: [broken ? `no valid run — ${broken}` : `${sec(med(num))} / ${dl}`, partly].filter(Boolean).join('; '),
      paired: median(perRound), pairedRounds: perRound.length, cpu: cpuRatio };
    out.push(g);
    return g;
  };

  ratioGoal('cold push / containerify cold', 'push-cold', ['cfy-cold'], 0.40);
  ratioGoal(`cold push / max(curl pipe, app gzip -${gzipLevel})`, 'push-cold', ['curl-pipe', gz], 1.3);
  ratioGoal('warm push / containerify warm', 'push-warm', ['cfy-warm'], 0.15);
  ratioGoal(`same-registry push / app gzip -${gzipLevel}`, 'push-same', [gz], 1.2);
  // Summed over every run that reported its blobs (the one that moved base bytes is invalid too,
  // and must still count); a run that failed reports nothing and is named in the detail.
  const sameRuns = results['push-same'] ?? [];
  const reported = sameRuns.filter((r) => r.baseBytes !== undefined);
  const sameBaseBytes = reported.length ? reported.reduce((a, r) => a + r.baseBytes, 0) : undefined;
  const sameBroken = sameBaseBytes === undefined ? noValidRun(byId, ['push-same']) : undefined;
  out.push({ goal: 'same-registry push: base bytes moved', value: sameBaseBytes, bound: 0,
    pass: sameBroken ? false : sameBaseBytes === undefined ? undefined : sameBaseBytes === 0,
    detail: sameBroken ? `no valid run — ${sameBroken}` : reported.length < sameRuns.length ? `sum over the ${reported.length}/${sameRuns.length} runs that reported` : 'sum over all runs' });
  ratioGoal('copy cold / skopeo copy cold', 'copy-cold', ['skopeo-cold'], 1.1);
  const syncFootprint = syncGoals(byId, ratioGoal, { rssBound: RSS_BOUND, mb });
  out.push(...splitGoals(byId, ratioGoal, noValidRun));

  const regpush = Object.values(byId).filter((s) => s.group === 'regpush' && !s.skipped && s.runs);
  const rssMax = regpush.length ? Math.max(...regpush.map((s) => s.peakRss.max ?? 0)) : undefined;
  const rssWorst = regpush.filter((s) => (s.peakRss.max ?? 0) > RSS_BOUND).map((s) => `${s.id} ${mb(s.peakRss.max)}`);
  out.push({ goal: `peak RSS of every regpush run${large ? ' (incl. 1 GiB)' : ''}, MB`, value: rssMax === undefined ? undefined : rssMax / 1e6, bound: RSS_BOUND / 1e6,
    pass: rssMax === undefined ? undefined : rssMax <= RSS_BOUND, detail: rssWorst.length ? `over: ${rssWorst.join(', ')}` : '' });
  // The many-small-files case on its own line: the run most likely to break the bound.
  const many = byId['push-50k'];
  if (many && !many.skipped && many.runs) {
    const v = many.peakRss.max;
    out.push({ goal: 'peak RSS, push of an app of 50,000 small files, MB', value: v === undefined ? undefined : v / 1e6, bound: RSS_BOUND / 1e6,
      pass: v === undefined ? undefined : v <= RSS_BOUND, detail: `max of ${many.runs} runs, median ${mb(many.peakRss.median)}` });
  }
  const diskMax = regpush.length ? Math.max(...regpush.map((s) => s.diskWrite.max ?? 0)) : undefined;
  const diskWorst = regpush.filter((s) => s.diskWrite.max).map((s) => `${s.id} ${mb(s.diskWrite.max)}`);
  out.push({ goal: `bytes written to disk by any regpush run${large ? ' (incl. 1 GiB)' : ''}`, value: diskMax, bound: 0,
    pass: diskMax === undefined ? undefined : diskMax === 0, detail: diskWorst.join(', ') });
  out.push(...syncFootprint);
  const largeGoal = 'peak RSS ≤ 100 MB with a 1 GiB base layer and a 1 GiB app file';
  if (!large) out.push({ goal: largeGoal, value: undefined, bound: 100, pass: undefined, detail: largeSkip ? `--large given, but not run: ${largeSkip}` : 'run with --large' });
  else {
    // its own line too: the 1 GiB rows' peak, and a FAIL when one of them ran without a valid run
    const ids = Object.keys(byId).filter((id) => id.startsWith('large-') && !byId[id].skipped && byId[id].runs);
    const v = ids.length ? Math.max(...ids.map((id) => byId[id].peakRss.max ?? 0)) : undefined;
    const broken = noValidRun(byId, ids);
    out.push({ goal: largeGoal, value: v === undefined ? undefined : v / 1e6, bound: RSS_BOUND / 1e6,
      pass: broken ? false : v === undefined ? undefined : v <= RSS_BOUND,
      detail: [broken ? `no valid run — ${broken}` : ids.map((id) => `${id} ${mb(byId[id].peakRss.max)}`).join(', '), partlyValid(byId, ids)].filter(Boolean).join('; ') });
  }
  return out;
}

/** The goals as markdown. */
export function goalsTable(gs) {
  const f = (x) => (x === undefined ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(2));
  const rows = [
    '| goal | measured (ratio of medians) | bound | result | per-round ratio (median) | CPU-time ratio |',
    '|---|---:|---:|---|---:|---:|',
  ];
  for (const g of gs) {
    const b = g.bound === undefined ? '–' : g.goal.includes('bytes') && !g.goal.includes('/') ? `= ${g.bound}` : `≤ ${g.bound}`;
    const res = g.info ? 'info' : g.pass === undefined ? 'n/a' : g.pass ? 'PASS' : '**FAIL**';
    rows.push(`| ${g.goal} | ${g.value === undefined ? 'n/a' : f(g.value)} | ${b} | ${res}${g.detail ? ` (${g.detail})` : ''} | ${f(g.paired)} | ${f(g.cpu)} |`);
  }
  return rows.join('\n');
}
