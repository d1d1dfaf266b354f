/** A watchdog that fails a stream which stops delivering data, so a stalled registry cannot hang a job. */
import type { Readable } from 'node:stream';

/**
 * Destroys `stream` with `makeError()` when no data arrives for `ms` while it is being read.
 * Time counts only while someone reads it: a paused stream is back-pressure, and a body nobody
 * has started reading (a blob GET opened ahead of its upload) is waiting, not stalled. The watch
 * itself reads nothing: its 'data' listener is added only once a reader's is (a 'data' listener
 * sets a stream flowing, and a body flowing before its reader is there loses its first bytes).
 * `onData`, if given, is told of each chunk read, through that same listener.
 */
export function watchIdle(stream: Readable, ms: number, makeError: () => Error, onData?: () => void): void {
  if (!(ms > 0) || !Number.isFinite(ms)) return;
  let timer: NodeJS.Timeout | undefined;
  let watching = false;
  /** Someone other than this watch reads the stream. */
  const read = (): boolean => stream.listenerCount('data') > (watching ? 1 : 0) || stream.listenerCount('readable') > 0;
  const fire = (): void => {
    timer = undefined;
    if (stream.destroyed) return;
    // Back-pressure: paused by its reader (not one that pulls with 'readable', as async
    // iteration does, where flowing is false throughout), or holding bytes not yet taken.
    const held = stream.readableLength > 0 || (stream.readableFlowing === false && stream.listenerCount('readable') === 0);
    if (held || !read()) return arm();
    stream.destroy(makeError());
  };
  // Called for every chunk read (~1,800 times per 113 MB blob): the running timer is restarted in
  // place (refresh()), not cleared and made anew, which cost a Timeout object and a list insert
  // per chunk.
  const arm = (): void => {
    if (timer) {
      timer.refresh();
      return;
    }
    timer = setTimeout(fire, ms);
    timer.unref();
  };
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const onNewListener = (event: string | symbol): void => {
    if (watching || (event !== 'data' && event !== 'readable')) return;
    // After the reader's own listener is in place, so that this one never starts the flow.
    queueMicrotask(() => {
      if (watching || stream.destroyed) return;
      watching = true;
      stream.off('newListener', onNewListener);
      stream.on(
        'data',
        onData
          ? () => {
              arm();
              onData();
            }
          : arm,
      );
    });
  };
  stream.on('newListener', onNewListener);
  stream.on('resume', arm);
  stream.on('pause', stop);
  stream.once('end', stop);
  stream.once('close', stop);
  stream.once('error', stop);
  arm();
}
