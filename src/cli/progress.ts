/**
 * Progress on stderr. On a terminal: one line per blob (action, bytes done of total, rate) and a
 * total line, redrawn in place by log-update (log lines are printed above the frame). Without a
 * terminal (CI, pipes, TERM=dumb): one plain line when a blob starts and when it ends, and a
 * summary; never a cursor code. Silent with --quiet and --json.
 */
import type { BlobEvents } from '../transfer/types.js';
import type { CommonContext } from './common.js';
import type { CliIO } from './io.js';
import { formatBytes, formatDuration, formatRate, ProgressModel, shortDigest, displayAction, type DisplayAction } from './progress-model.js';
import { isLayerKey } from '../push/layer-label.js';

/** Order of the actions in the total line. */
const TOTAL_ORDER: readonly string[] = ['foreign', 'skip', 'mount', 'stream', 'upload', 'build'] satisfies DisplayAction[];

/** A progress sink and its cleanup. */
export interface Progress {
  events: BlobEvents & { phase?(name: string): void };
  /** Ends the display; `ok` false leaves the last frame as it was (it shows where a failure stopped). */
  stop(ok?: boolean): void;
}

/** How often the terminal frame is redrawn (ms). */
const REDRAW_MS = 100;

/** True when stderr is a terminal that understands cursor movement. */
export function isInteractive(io: CliIO): boolean {
  return io.stderr.isTTY === true && io.env.TERM !== 'dumb';
}

/** Creates the progress display for this run; `targets` > 1 makes plain lines name their target. */
export async function createProgress(io: CliIO, ctx: Pick<CommonContext, 'verbosity' | 'logSink'>, json: boolean, targets = 1): Promise<Progress> {
  if (ctx.verbosity === 'quiet' || json) return { events: {}, stop() {} };
  if (isInteractive(io)) return terminalProgress(io, ctx, targets > 1);
  return plainProgress(io, targets > 1);
}

/**
 * CI mode: one line when a blob starts and one when it is done (per target, named when there are
 * several), a summary at the end. A log is read top to bottom: every line is said once.
 */
export function plainProgress(io: Pick<CliIO, 'stderr'>, nameTargets = false): Progress {
  const model = new ProgressModel();
  const write = (s: string) => io.stderr.write(s + '\n');
  const said = new Set<string>();
  const once = (key: string, line: string) => {
    if (said.has(key)) return;
    said.add(key);
    write(line);
  };
  const at = (target: string | undefined) => (nameTargets && target ? ` → ${target}` : '');
  /** Each new layer is built and sent once per target registry; its lines are said once. */
  const layerDone = () => {
    for (const e of model.entries) {
      if (isLayerKey(e.digest) && e.ended !== undefined) once(`layer done ${e.digest}`, `build   ${shortDigest(e.digest)} done (${formatBytes(e.size ?? e.bytes)})`);
    }
  };
  return {
    events: {
      start(digest, action, size, target) {
        model.start(digest, action, size, isLayerKey(digest) && target === undefined, target);
        if (isLayerKey(digest)) {
          // A layer's lines are said once, not per target: "build" when it is first built or sent.
          if (action !== 'skipped' && action !== 'mounted') once(`layer start ${digest}`, `build   ${shortDigest(digest)}`);
          return;
        }
        if (action === 'skipped' || size === undefined) return;
        const verb = displayAction(action);
        once(`start ${verb} ${digest} ${target ?? ''}`, `${verb.padEnd(7)} ${shortDigest(digest)} ${formatBytes(size)}${at(target)}`);
      },
      bytes(digest, n) {
        model.bytes(digest, n);
        if (isLayerKey(digest)) once(`layer start ${digest}`, `build   ${shortDigest(digest)}`);
      },
      end(report, target) {
        const e = model.end(report, target);
        if (isLayerKey(report.digest)) return; // a layer's lines are said once, not per target (layerDone)
        const ms = e?.ended !== undefined ? e.ended - e.started : 0;
        const moved = report.bytes ? ` (${formatBytes(report.bytes)}, ${formatRate(report.bytes, ms)})` : '';
        const verb = displayAction(report.action);
        once(`end ${verb} ${report.digest} ${target ?? ''}`, `${verb.padEnd(7)} ${shortDigest(report.digest)} done${moved}${at(target)}`);
      },
      phase(name) {
        model.phase(name);
        layerDone();
      },
    },
    stop(ok = true) {
      model.finish(ok);
      if (ok) layerDone();
      if (!ok || model.entries.length === 0) return;
      const t = model.totals();
      const counts = new Map<string, number>();
      for (const e of model.entries) counts.set(e.action, (counts.get(e.action) ?? 0) + 1);
      // A fixed order, base blobs before the app layer: which one started first is a race.
      const parts = [...counts].sort(([a], [b]) => TOTAL_ORDER.indexOf(a) - TOTAL_ORDER.indexOf(b)).map(([a, n]) => `${n} ${a}`).join(', ');
      write(`total   ${t.blobs} blobs (${parts}), ${formatBytes(t.bytes)} sent in ${formatDuration(t.elapsed)} (${formatRate(t.bytes, t.elapsed)})`);
    },
  };
}

/** Terminal mode: the frame is redrawn every REDRAW_MS while something changed; `nameTargets`: a layer's line names the target it is being sent to. */
async function terminalProgress(io: CliIO, ctx: Pick<CommonContext, 'logSink'>, nameTargets: boolean): Promise<Progress> {
  const { createLogUpdate } = await import('log-update');
  // A pseudo-terminal without a size (script(1), some CI runners) reports 0 columns and 0 rows.
  const width = () => io.stderr.columns || 80;
  const height = () => io.stderr.rows || 24;
  const terminal = {
    isTTY: true,
    get columns() {
      return width();
    },
    get rows() {
      return height();
    },
    write: (text: string) => io.stderr.write(text),
  } as unknown as NodeJS.WriteStream;
  // showCursor: nothing to restore if the process is killed mid-push.
  const frame = createLogUpdate(terminal, { showCursor: true });
  const model = new ProgressModel(undefined, nameTargets);
  let dirty = true;
  const draw = () => {
    frame(model.render(width(), height()).join('\n'));
    dirty = false;
  };
  const timer = setInterval(() => {
    // The bouncing bar of the app layer moves even when no byte arrived.
    if (dirty || model.entries.some((e) => e.ended === undefined)) draw();
  }, REDRAW_MS);
  timer.unref();
  const previous = ctx.logSink.write;
  ctx.logSink.write = (text) => {
    // A log line goes above the frame and stays in the scrollback; the frame is drawn again below.
    frame.persist(text.replace(/\n$/, ''));
    draw();
  };
  let stopped = false;
  return {
    events: {
      start(digest, action, size, target) {
        model.start(digest, action, size, isLayerKey(digest) && target === undefined, target);
        dirty = true;
      },
      bytes(digest, n) {
        model.bytes(digest, n);
        dirty = true;
      },
      end(report, target) {
        model.end(report, target);
        dirty = true;
      },
      phase(name) {
        model.phase(name);
        dirty = true;
      },
    },
    stop(ok = true) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      ctx.logSink.write = previous;
      model.finish(ok);
      if (model.entries.length === 0) {
        frame.clear();
      } else {
        draw();
      }
      frame.done();
    },
  };
}
