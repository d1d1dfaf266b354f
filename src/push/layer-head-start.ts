/**
 * A new layer's build started before anyone can send it: every layer upload builds ahead while its
 * session opens (and learns whether the layer is small enough for one PUT, layer-upload.ts), and
 * where the layer is what a push waits for (its base is mounted in the same registry, or there is
 * no base) push starts it even earlier, while the target is asked about its tag: over a network
 * those answers take a round trip or two, and the cores would otherwise sit idle. The gzip output
 * is held up to a bound, then the build waits (backpressure) for the upload to read on. The
 * upload reads the held bytes first and then the rest of the same stream, so the bytes and the
 * digest are exactly those of a build started later. Dropped (the build aborted, nothing sent)
 * when the tag turns out to exist or the push ends without it.
 */
import { Readable } from 'node:stream';
import { createLayerStream, type LayerOptions, type LayerResult } from '../layer/index.js';

/**
 * Gzip output held while no upload reads it. Over 80 ms the head start lasts ~2 round trips, in
 * which two cores compress a few MB; 8 MiB covers that with room and bounds the memory.
 */
export const HEAD_START_BYTES = 8 * 1024 * 1024;

/** The layer stream an upload takes over: the held bytes come first. */
export interface StartedLayer {
  stream: Readable;
  result: Promise<LayerResult>;
}

export class LayerHeadStart {
  private readonly abort = new AbortController();
  private readonly stream: Readable;
  private readonly result: Promise<LayerResult>;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private ended = false;
  private state: 'running' | 'taken' | 'dropped' = 'running';
  private facts?: LayerResult;

  /** Wakes whole() when the build moved on (held more, ended, failed). */
  private wake?: () => void;

  constructor(options: LayerOptions, signal: AbortSignal | undefined, private limit = HEAD_START_BYTES) {
    const own = this.abort.signal;
    const { stream, result } = createLayerStream({ ...options, signal: signal ? AbortSignal.any([signal, own]) : own });
    this.stream = stream;
    this.result = result;
    result.then(
      (r) => (this.facts = r),
      () => undefined, // the upload that takes the build meets its failure; a dropped one has none to report
    );
    stream.on('data', this.hold);
    stream.once('end', () => {
      this.ended = true;
      this.wake?.();
    });
    stream.once('close', () => this.wake?.());
  }

  private readonly hold = (chunk: Buffer): void => {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= this.limit) this.stream.pause();
    this.wake?.();
  };

  /**
   * Waits until the build has ended within `bytes` — then takes it and gives its whole output,
   * which a monolithic PUT can send with its digest — or holds more than `bytes` (undefined:
   * take() the stream). Only the size decides, not how far the build got meanwhile, so the same
   * layer is always sent the same way. Rejects with the build's failure; undefined once taken or
   * dropped.
   */
  async whole(bytes: number): Promise<{ data: Buffer; result: LayerResult } | undefined> {
    const enough = Math.min(bytes, this.limit); // it waits for a reader at `limit`
    while (this.state === 'running') {
      if (this.heldBytes > enough || this.heldBytes >= this.limit) return undefined;
      if (this.ended) return this.takeWhole();
      if (this.stream.destroyed) {
        await this.result; // rejects with the failure (a destroyed stream that has not ended never resolves it)
        return undefined;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return undefined;
  }

  /**
   * The build's whole output if it has already ended (within the bound), taken for one PUT with its
   * digest; undefined, and nothing taken, while it still runs. The upload asks when its session is
   * ready: a layer that finished compressing while the session opened (a token round trip, a slow
   * POST) then costs one request instead of a PATCH and the closing PUT after it.
   */
  async wholeIfEnded(): Promise<{ data: Buffer; result: LayerResult } | undefined> {
    if (this.state !== 'running' || !this.ended) return undefined;
    return this.takeWhole();
  }

  private async takeWhole(): Promise<{ data: Buffer; result: LayerResult }> {
    this.state = 'taken';
    this.stream.off('data', this.hold);
    const data = Buffer.concat(this.held);
    this.held = [];
    return { data, result: await this.result };
  }

  /**
   * The digest, diffID and sizes of a build that has completed (kept after it is taken or dropped:
   * they stay true of those bytes); undefined while it runs or when it failed or was stopped.
   */
  get built(): LayerResult | undefined {
    return this.facts;
  }

  /**
   * The layer's digest before anything is sent (a dependency layer, asked for at the target first:
   * layer-everywhere.ts). A build that has ended keeps what it held, for the upload to send as one
   * PUT if the target lacks it; one still running goes on to its end holding nothing more (what it
   * held is let go: a layer past the bound is built again to be sent, as it would be without a
   * head start), so its work so far is not done twice. Rejects with the build's failure.
   * `onBytes`: the gzip bytes made, for progress: those made so far at once, then the rest as
   * they come.
   */
  async digest(onBytes?: (n: number) => void): Promise<LayerResult> {
    if (this.state !== 'running') return this.result;
    if (onBytes && this.heldBytes > 0) onBytes(this.heldBytes);
    if (!this.ended) {
      this.state = 'taken';
      this.stream.off('data', this.hold);
      this.held = [];
      this.heldBytes = 0;
      if (onBytes) this.stream.on('data', (c: Buffer) => onBytes(c.length));
      this.stream.resume(); // flowing with no reader: the rest is counted into the digest and let go
    }
    return this.result;
  }

  /**
   * Raises the bound (never lowers it), and lets a build waiting at the old one go on: a build
   * started with a small bound, to learn early whether a small layer changed, gets the usual one
   * once an upload adopts it.
   */
  extend(limit: number): void {
    if (limit <= this.limit) return;
    this.limit = limit;
    if (this.state === 'running' && this.heldBytes < limit && this.stream.isPaused()) this.stream.resume();
  }

  /** True until it is taken or dropped. */
  get running(): boolean {
    return this.state === 'running';
  }

  /** Bytes of gzip output held so far (for tests and --debug). */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /**
   * The build, for the one upload that sends it; undefined once taken or dropped, or when the
   * build failed (the upload then builds the layer itself and meets the failure there).
   */
  take(): StartedLayer | undefined {
    if (this.state !== 'running') return undefined;
    this.state = 'taken';
    const held = this.held;
    this.held = [];
    const s = this.stream;
    s.off('data', this.hold);
    if (this.ended) return { stream: Readable.from(held, { objectMode: false }), result: this.result };
    if (s.destroyed || s.errored) return undefined;
    s.pause();
    // Back to the front of the stream's buffer, last first, so the reader gets them in order.
    for (let i = held.length - 1; i >= 0; i--) s.unshift(held[i]!);
    return { stream: s, result: this.result };
  }

  /** Stops the build if nobody took it; frees what it held. */
  drop(): void {
    if (this.state !== 'running') return;
    this.state = 'dropped';
    this.held = [];
    this.heldBytes = 0;
    this.stream.off('data', this.hold);
    this.abort.abort();
    this.stream.destroy();
  }
}
