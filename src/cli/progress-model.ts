/**
 * What the progress display knows and how it looks, without any terminal: blob events in, lines
 * out. Pure apart from the clock it is given, so the layout is unit-tested.
 */
import type { BlobAction, BlobReport } from '../transfer/types.js';
import { isLayerKey, layerNameOf } from '../push/layer-label.js';

/** The verb shown for a blob. */
export type DisplayAction = 'skip' | 'mount' | 'stream' | 'upload' | 'build' | 'foreign';

/** One line of the display: a blob (or the app layer) at one or more targets. */
export interface ProgressEntry {
  digest: string;
  action: DisplayAction;
  /** Declared size; for a layer being built, undefined until it reaches its first target (the built layer's size) or starts at one with its size known. */
  size?: number;
  /** Bytes sent so far (what the totals count: a layer sent to several targets once). */
  bytes: number;
  /** A layer being built: the pass under way, which its line shows while it is open (LayerPass). */
  pass?: LayerPass;
  started: number;
  ended?: number;
  /** Targets still working on this blob (copy to several targets). */
  pending: number;
  /**
   * A layer built for its digest alone (a dependency layer's pass before any target is asked for
   * it) that no target has been sent yet: its bytes were made, not sent, and stay out of the
   * totals unless a target then takes the layer as `uploaded`.
   */
  unsent?: boolean;
}

/**
 * What a layer's live line shows: the pass under way (its digest pass, or its build and upload at
 * one target), from 0. Push sends a layer to its targets one after another (layer-everywhere.ts),
 * so a line of the bytes across every target would need a total that grows as each target answers
 * its HEAD (its 100% falling back to 50%), and one of the first target's bytes alone stands still
 * through every later upload, which may take as long. Per target, the bar and rate read as a base
 * blob's do (how far this upload is, how fast it goes), and the line names the target when there
 * are several, so starting again from 0 reads as the next target, not as a retry.
 */
export interface LayerPass {
  bytes: number;
  started: number;
  /** The target it is sent to (`registry/repo`); none for a digest pass. */
  target?: string;
}

function passAt(started: number, target: string | undefined): LayerPass {
  return { bytes: 0, started, ...(target !== undefined ? { target } : {}) };
}

const VERB: Record<BlobAction, DisplayAction> = {
  skipped: 'skip',
  mounted: 'mount',
  streamed: 'stream',
  uploaded: 'upload',
  foreign: 'foreign',
  'planned-mount': 'mount',
  'planned-stream': 'stream',
  'planned-upload': 'upload',
};

/** The display verb of a library blob action. */
export function displayAction(a: BlobAction): DisplayAction {
  return VERB[a];
}

/** "1.0 MiB" style byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** "2.5 MiB/s"; "-" before there is anything to measure. */
export function formatRate(bytes: number, ms: number): string {
  if (bytes <= 0 || ms <= 0) return '-';
  return `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

/** "0.4s", "1m05s". */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

/** Short form of a digest for the display: 12 hex characters; a layer being built by its name. */
export function shortDigest(d: string): string {
  return isLayerKey(d) ? layerNameOf(d) : d.replace(/^sha256:/, '').slice(0, 12);
}

/** What the pipeline is doing after each phase it reports as finished. */
const AFTER_PHASE: Record<string, string> = {
  resolve: 'checking the target',
  plan: 'moving blobs',
  transfer: 'writing config',
  config: 'confirming blobs',
  confirm: 'writing manifest',
  manifest: 'done',
};

/** The progress state of one run. */
export class ProgressModel {
  readonly entries: ProgressEntry[] = [];
  /**
   * The entries of each digest, in the order of `entries`, and those of them still open: what
   * start(), bytes() and end() look up, without passing over every entry of the run for each
   * chunk (a copy --all-tags of 2,000 tags has ~6,000 entries). Kept by add() and close().
   */
  private readonly byDigest = new Map<string, ProgressEntry[]>();
  private readonly openByDigest = new Map<string, ProgressEntry[]>();
  /**
   * Layers being built whose bytes are no longer counted: they are at a target (their end came),
   * or they started at a second one. What follows is the same layer made again for another
   * target, counted once as a blob streamed to several targets is.
   */
  private readonly layersCounted = new Set<string>();
  /**
   * Layers whose start at a target was a mount, by key: bytes that follow are the mount's fallback
   * (the layer sent after all, with no start of its own), a new pass at that target.
   */
  private readonly mounting = new Map<string, { target?: string; started: number }>();
  private firstStart?: number;
  private status = 'resolving';
  private finished?: number;

  /** `nameTargets`: a push to several targets, whose layer lines name the target being sent to. */
  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly nameTargets = false,
  ) {}

  /**
   * A blob starts (at one target). A layer being built has one line ("build") for all its
   * targets; one that is only skipped or mounted at a target makes none (nothing is built there),
   * unless it was built for its digest first. `forDigest`: a layer's start at no target, as its
   * digest pass begins (a dependency layer's, push/layer-events.ts). `target`: where it starts.
   */
  start(digest: string, action: BlobAction, size: number | undefined, forDigest = false, target?: string): ProgressEntry | undefined {
    if (isLayerKey(digest)) return this.layerStart(digest, action, size, forDigest, target);
    const t = this.now();
    this.firstStart ??= t;
    const verb = displayAction(action);
    const same = this.openOf(digest).find((e) => e.action === verb);
    if (same) {
      same.pending++;
      return same;
    }
    return this.add({ digest, action: verb, size, bytes: 0, started: t, pending: 1 });
  }

  /** A new entry, at the end of the display. */
  private add(e: ProgressEntry): ProgressEntry {
    this.entries.push(e);
    for (const index of [this.byDigest, this.openByDigest]) {
      const list = index.get(e.digest);
      if (list) list.push(e);
      else index.set(e.digest, [e]);
    }
    return e;
  }

  /** Marks `e` finished now. */
  private close(e: ProgressEntry): void {
    e.ended = this.now();
    const open = this.openByDigest.get(e.digest);
    const i = open ? open.indexOf(e) : -1;
    if (i < 0) return;
    open!.splice(i, 1);
    if (open!.length === 0) this.openByDigest.delete(e.digest);
  }

  /** The entries of `digest` still open, in display order. */
  private openOf(digest: string): readonly ProgressEntry[] {
    return this.openByDigest.get(digest) ?? [];
  }

  /** The last entry of `digest`, open or not. */
  private lastOf(digest: string): ProgressEntry | undefined {
    return this.byDigest.get(digest)?.at(-1);
  }

  private layerStart(digest: string, action: BlobAction, size: number | undefined, forDigest: boolean, target: string | undefined): ProgressEntry | undefined {
    const line = this.lastOf(digest);
    const t = this.now();
    this.mounting.delete(digest);
    if (action === 'mounted') this.mounting.set(digest, { target, started: t });
    // Where it is skipped or mounted the line goes on showing the last pass (nothing is sent there).
    const pass = action === 'uploaded' ? passAt(t, target) : undefined;
    if (line?.unsent && action === 'uploaded' && !forDigest) {
      // The first target sent a layer built for its digest first: the line shows that upload from
      // nothing, its bytes counted (the pass's were made, not sent; a target that had the layer
      // stopped no count, as it sends none), so a 2 GB upload is not shown done as it begins.
      line.unsent = undefined;
      line.bytes = 0;
      line.size ??= size;
      line.pass = pass;
      this.layersCounted.delete(digest);
      return line;
    }
    if (line) {
      // A further target, or the first after the digest pass: what is built from now on is the
      // same layer again, counted once in the totals; its line shows this upload (LayerPass).
      this.layersCounted.add(digest);
      line.size ??= size;
      if (pass) line.pass = pass;
      return line;
    }
    if (action === 'skipped' || action === 'mounted') return undefined;
    this.firstStart ??= t;
    return this.add({ digest, action: 'build', size, bytes: 0, started: t, pending: 1, pass: passAt(t, target), ...(forDigest ? { unsent: true } : {}) });
  }

  /** Bytes of a blob went out (a layer's may come without a start: one whose mount fell back); a mount getting them has fallen back to streaming. */
  bytes(digest: string, n: number): void {
    if (isLayerKey(digest)) return this.layerBytes(digest, n);
    const open = this.openOf(digest);
    let e = open.find((x) => x.action !== 'mount') ?? open[0];
    // A registry that answers a mount with an upload session (202), or refuses it, gets the blob
    // streamed after all, with no start of its own: the line shows what is happening now.
    if (e?.action === 'mount') e.action = 'stream';
    if (e) e.bytes += n;
  }

  private layerBytes(digest: string, n: number): void {
    const t = this.now();
    // A mount that fell back: the layer is sent to that target after all, a pass of its own.
    const fellBack = this.mounting.get(digest);
    this.mounting.delete(digest);
    const pass = fellBack ? passAt(fellBack.started, fellBack.target) : undefined;
    let e = this.openOf(digest)[0];
    if (!e) {
      this.firstStart ??= t;
      e = this.add({ digest, action: 'build', bytes: 0, started: t, pending: 1, pass: pass ?? passAt(t, undefined) });
    } else if (pass) {
      e.pass = pass;
    }
    if (e.pass) e.pass.bytes += n;
    if (!this.layersCounted.has(digest)) e.bytes += n;
  }

  /**
   * A blob is done at one target; a mount that fell back to streaming shows as a stream. A layer
   * being built is at a target: its line gets the layer's size and stays open until the transfer
   * phase ends (the other targets may still need it).
   */
  end(report: BlobReport, target?: string): ProgressEntry | undefined {
    if (isLayerKey(report.digest)) {
      // A mount that did not fall back: no pass there.
      if (this.mounting.get(report.digest)?.target === target) this.mounting.delete(report.digest);
      const layer = this.lastOf(report.digest);
      if (layer) {
        layer.size = report.size;
        // What this target was sent counts once, whole: a second target started meanwhile (the
        // same bytes made again) stopped the count of this one's chunks part way.
        layer.bytes = Math.max(layer.bytes, report.bytes);
        this.layersCounted.add(report.digest);
      }
      return layer;
    }
    const verb = displayAction(report.action);
    const open = this.openOf(report.digest);
    const e = open.find((x) => x.action === verb) ?? open[0];
    if (!e) {
      // Several targets fed by one stream end one by one after a single start.
      const earlier = this.byDigest.get(report.digest)?.find((x) => x.action === verb);
      if (earlier) return earlier;
      this.start(report.digest, report.action, report.size);
      return this.end(report);
    }
    e.action = verb;
    if (--e.pending <= 0) this.close(e);
    return e;
  }

  /** A pipeline phase finished (push reports resolve, plan, transfer, config, confirm, manifest). */
  phase(name: string): void {
    this.status = AFTER_PHASE[name] ?? name;
    if (name === 'transfer') this.closeLayer();
  }

  /** Marks the run finished; open entries stay open (a failure shows where it stopped). */
  finish(ok: boolean): void {
    this.closeLayer();
    this.finished = this.now();
    this.status = ok ? 'done' : 'stopped';
  }

  private closeLayer(): void {
    for (const layer of this.entries.filter((e) => isLayerKey(e.digest) && e.ended === undefined)) {
      this.close(layer);
      layer.size ??= layer.bytes; // no target said its size (the push failed first)
    }
  }

  /** Totals over every entry. */
  totals(): { blobs: number; done: number; bytes: number; toSend?: number; elapsed: number } {
    const t = this.finished ?? this.now();
    let bytes = 0;
    let toSend = 0;
    let unknown = false;
    for (const e of this.entries) {
      if (e.unsent) continue; // built for its digest, sent to no target (so far): its own line shows the pass
      bytes += e.bytes;
      if (e.action === 'stream' || e.action === 'upload' || e.action === 'build') {
        if (e.size === undefined) unknown = true;
        else toSend += e.size;
      }
    }
    return {
      blobs: this.entries.length,
      done: this.entries.filter((e) => e.ended !== undefined).length,
      bytes,
      toSend: unknown ? undefined : toSend,
      elapsed: this.firstStart === undefined ? 0 : t - this.firstStart,
    };
  }

  /** The display: one line per blob and a total line, at most `rows` lines of at most `width` columns. */
  render(width = 100, rows = 24): string[] {
    const now = this.finished ?? this.now();
    const maxBlobLines = Math.max(1, rows - 2);
    let shown = this.entries;
    let hidden = 0;
    if (shown.length > maxBlobLines) {
      // Too many for the screen: keep every running blob, fold the oldest finished ones into one line.
      const running = shown.filter((e) => e.ended === undefined);
      const done = shown.filter((e) => e.ended !== undefined);
      const keepDone = Math.max(0, maxBlobLines - 1 - running.length);
      const kept = new Set([...running, ...done.slice(done.length - keepDone)]);
      hidden = shown.length - kept.size;
      shown = shown.filter((e) => kept.has(e));
    }
    const lines: string[] = [];
    if (hidden > 0) lines.push(`...     ${hidden} more blob${hidden === 1 ? '' : 's'} done`);
    for (const e of shown) {
      const full = entryLine(e, now, true);
      const to = this.nameTargets && e.ended === undefined && e.pass?.target !== undefined ? `  → ${e.pass.target}` : '';
      // The target goes where there is room for it: the bar and the columns come first.
      lines.push([full + to, full, entryLine(e, now, false) + to].find((l) => l.length <= width) ?? entryLine(e, now, false));
    }
    lines.push(this.totalLine());
    return lines.map((l) => (l.length > width ? l.slice(0, Math.max(1, width - 1)) : l));
  }

  /** "total   3/4 blobs  1.0 MiB / 1.1 MiB  2.5 MiB/s  0.4s  moving blobs". */
  totalLine(): string {
    const t = this.totals();
    const sent = t.toSend !== undefined ? `${formatBytes(t.bytes)} / ${formatBytes(t.toSend)}` : formatBytes(t.bytes);
    return `total   ${t.done}/${t.blobs} blobs  ${sent}  ${formatRate(t.bytes, t.elapsed)}  ${formatDuration(t.elapsed)}  ${this.status}`;
  }
}

/** Bar width: with the paddings below a typical line fits 80 columns. */
const BAR = 15;

function bar(done: number, total: number | undefined, running: boolean, now: number): string {
  if (total === undefined || total <= 0) {
    if (!running) return `[${'='.repeat(BAR)}]`;
    // Unknown total (the app layer while it is built): a bouncing marker.
    const pos = Math.floor(now / 120) % (2 * (BAR - 3));
    const at = pos < BAR - 3 ? pos : 2 * (BAR - 3) - pos;
    return `[${' '.repeat(at)}<=>${' '.repeat(BAR - 3 - at)}]`;
  }
  const filled = Math.min(BAR, Math.floor((done / total) * BAR));
  const head = filled < BAR && running ? '>' : '';
  return `[${'='.repeat(filled)}${head}${' '.repeat(BAR - filled - head.length)}]`;
}

function entryLine(e: ProgressEntry, now: number, withBar: boolean): string {
  const running = e.ended === undefined;
  const head = `${e.action.padEnd(7)} ${shortDigest(e.digest).padEnd(12)}  `;
  const state = running ? '' : '  done';
  if (e.action === 'skip') return `${head}already at the target  ${formatBytes(e.size ?? 0)}${state}`;
  if (e.action === 'foreign') return `${head}foreign layer, not copied  ${formatBytes(e.size ?? 0)}${state}`;
  if (e.action === 'mount') return `${head}${running ? 'mounting' : 'mounted'} (no bytes sent)  ${formatBytes(e.size ?? 0)}${state}`;
  // A layer's open line shows its pass under way; its size, once known (a dependency layer's after
  // its digest pass, any layer's after its first target), is that pass's total too: the bytes made
  // again for another target are the same. A layer streamed as it is built has none yet: no bar.
  const live = running && e.pass ? e.pass : e;
  const elapsed = (e.ended ?? now) - live.started;
  const amount = e.size !== undefined ? `${formatBytes(live.bytes)} / ${formatBytes(e.size)}` : formatBytes(live.bytes);
  const drawn = withBar ? `${bar(live.bytes, e.size, running, now)}  ` : '';
  // Columns line up when there is room; a narrow terminal gets the compact form.
  if (!withBar) return `${head}${amount}  ${formatRate(live.bytes, elapsed)}${state}`;
  return `${head}${drawn}${amount.padStart(19)}  ${formatRate(live.bytes, elapsed).padStart(11)}${state}`;
}
