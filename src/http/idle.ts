/** A watchdog that fails a stream which stops delivering data, so a stalled registry cannot hang a job. */
import type { Readable } from 'node:stream';

/** Destroys `stream` with `makeError()` when no data arrives for `ms` while it is being read. */
export function watchIdle(stream: Readable, ms: number, makeError: () => Error): void {
  if (!(ms > 0) || !Number.isFinite(ms)) return;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => stream.destroy(makeError()), ms);
    timer.unref();
  };
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  // Only count time while someone is consuming: a paused stream is back-pressure, not a stall.
  stream.on('data', arm);
  stream.on('resume', arm);
  stream.on('pause', stop);
  stream.once('end', stop);
  stream.once('close', stop);
  stream.once('error', stop);
}
