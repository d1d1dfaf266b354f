/**
 * Connections opened before a request needs them, waiting to be handed over: the transport's
 * spares (`Spares` in spare-sockets.ts, keyed by the agent's pool name) and the connections the CLI's
 * launcher opened (early-sockets.ts, keyed by host and port). A waiting socket never keeps the
 * process alive, closes after WAITING_IDLE_MS untaken, and a failed one is simply not there.
 */
import type { Socket } from 'node:net';

/** How long an opened connection waits for a request before it is closed (ms). */
export const WAITING_IDLE_MS = 4_000;

/** Sockets waiting to be taken, by key. */
export class WaitingSockets {
  private readonly byKey = new Map<string, Set<Socket>>();
  private readonly timers = new Map<Socket, NodeJS.Timeout>();

  /** Puts a socket (open or still connecting) under `key`. */
  add(key: string, socket: Socket): void {
    const set = this.byKey.get(key) ?? new Set<Socket>();
    this.byKey.set(key, set);
    socket.unref();
    const drop = (): void => {
      if (set.delete(socket)) this.forget(socket);
    };
    socket.once('close', drop);
    // Refused, unreachable, reset: the request that would have used it connects on its own and reports that.
    socket.once('error', () => socket.destroy());
    this.timers.set(
      socket,
      setTimeout(() => {
        drop();
        socket.destroy();
      }, WAITING_IDLE_MS).unref(),
    );
    set.add(socket);
  }

  /** A socket under `key` that is open or still connecting, handed over for good; undefined when none is left. */
  take(key: string | undefined): Socket | undefined {
    const set = key === undefined ? undefined : this.byKey.get(key);
    if (!set) return undefined;
    for (const socket of set) {
      set.delete(socket);
      this.forget(socket);
      if (socket.destroyed || socket.readyState === 'closed') continue;
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.ref();
      return socket;
    }
    return undefined;
  }

  /** Sockets waiting under `key`, or under every key. */
  count(key?: string): number {
    if (key !== undefined) return this.byKey.get(key)?.size ?? 0;
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  /** Closes every socket still waiting. */
  destroy(): void {
    for (const set of this.byKey.values()) for (const socket of set) socket.destroy();
    for (const t of this.timers.values()) clearTimeout(t);
    this.byKey.clear();
    this.timers.clear();
  }

  private forget(socket: Socket): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
  }
}
