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
 * The performance goals (docs/performance.md), each { goal, value, bound, pass (true/false/undefined = n/a), detail, paired, cpu }.
 * `value` (what PASS/FAIL uses) is the ratio of the wall-time medians. Two views that suffer less
 * from a machine shared with other work are added: `paired`, the median over rounds of the ratio
 * within the round (the interleaving makes neighbours comparable), and `cpu`, the same ratio of
 * CPU-seconds (user+sys of the process tree).
 */
export function goals(byId, results, { gzipLevel, sameBaseBytes, large }) {
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
    const g = { goal, value, bound, pass: value === undefined ? undefined : le(value, bound), detail: `${sec(med(num))} / ${dl}`,
      paired: median(perRound), pairedRounds: perRound.length, cpu: cpuRatio };
    out.push(g);
    return g;
  };

  ratioGoal('cold push / containerify cold', 'push-cold', ['cfy-cold'], 0.40);
  ratioGoal(`cold push / max(curl pipe, app gzip -${gzipLevel})`, 'push-cold', ['curl-pipe', gz], 1.3);
  ratioGoal('warm push / containerify warm', 'push-warm', ['cfy-warm'], 0.15);
  ratioGoal(`same-registry push / app gzip -${gzipLevel}`, 'push-same', [gz], 1.2);
  out.push({ goal: 'same-registry push: base bytes moved', value: sameBaseBytes, bound: 0, pass: sameBaseBytes === undefined ? undefined : sameBaseBytes === 0, detail: 'sum over all runs' });
  ratioGoal('copy cold / skopeo copy cold', 'copy-cold', ['skopeo-cold'], 1.1);
  const syncFootprint = syncGoals(byId, ratioGoal, { rssBound: RSS_BOUND, mb });
  out.push(...splitGoals(byId, ratioGoal));

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
  if (!large) out.push({ goal: 'peak RSS ≤ 100 MB with a 1 GiB base layer and a 1 GiB app file', value: undefined, bound: 100, pass: undefined, detail: 'run with --large' });
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
