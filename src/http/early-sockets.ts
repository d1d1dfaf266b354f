/**
 * TCP connections opened before the code that will use them has loaded. The CLI's launcher opens
 * them to the registries its arguments name (src/cli/early-connect.ts) and then loads the
 * pipelines, which takes ~20–25 ms of the start; the first requests find the handshake under way
 * or done instead of starting it then. On a registry 80 ms away that is a fifth of a round trip off
 * every command's first request, for the price of a connection that may go unused.
 *
 * Plain TCP only: the transport's agents take a socket by host and port and put TLS, with their
 * own trust and client-certificate settings, on top of it (axios-send.ts). A socket nobody takes
 * closes after SPARE_IDLE_MS or at close(); none of them keeps the process alive, and a failed
 * connection is just not there.
 */
import net, { type Socket } from 'node:net';

/** How long a connection opened early waits to be taken before it is closed (ms); as the transport's own spares. */
export const EARLY_IDLE_MS = 4_000;

/** Opens a TCP connection (net.connect's shape; tests pass their own). */
export type Connector = (port: number, host: string) => Socket;

/** The connections opened early, by "host:port". */
export class EarlySockets {
  private readonly byOrigin = new Map<string, Set<Socket>>();
  private readonly timers = new Map<Socket, NodeJS.Timeout>();

  constructor(private readonly connector: Connector = (port, host) => net.connect(port, host)) {}

  /** Opens `n` connections to host:port (a host as in a URL; IPv6 with or without brackets). */
  open(host: string, port: number, n: number): void {
    const key = originKey(host, port);
    const set = this.byOrigin.get(key) ?? new Set<Socket>();
    this.byOrigin.set(key, set);
    this.opened.push(`${key} ×${n}`);
    for (let i = 0; i < n; i++) {
      let socket: Socket;
      try {
        socket = this.connector(port, bare(host));
      } catch {
        return; // an address net refuses outright: the transport will say what is wrong with it
      }
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
        }, EARLY_IDLE_MS).unref(),
      );
      set.add(socket);
    }
  }

  /** A connection to host:port that is open or still connecting, handed over for good; undefined when none is left. */
  take(host: string, port: number): Socket | undefined {
    const set = this.byOrigin.get(originKey(host, port));
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

  /** What was opened, for the debug log: "host:port ×n" per origin. */
  readonly opened: string[] = [];

  /** Connections not taken yet (open or connecting). */
  get waiting(): number {
    let n = 0;
    for (const set of this.byOrigin.values()) n += set.size;
    return n;
  }

  /** Closes every connection nobody took. */
  close(): void {
    for (const set of this.byOrigin.values()) for (const socket of set) socket.destroy();
    for (const t of this.timers.values()) clearTimeout(t);
    this.byOrigin.clear();
    this.timers.clear();
  }

  private forget(socket: Socket): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
  }
}

/** "[::1]" and "::1" are one host; names are case-insensitive. */
function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

function originKey(host: string, port: number): string {
  return `${bare(host)}:${port}`;
}
