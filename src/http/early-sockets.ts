/**
 * TCP connections opened before the code that will use them has loaded. The CLI's launcher opens
 * them to the registries its arguments name (src/cli/early-connect.ts) and then loads the
 * pipelines, which takes ~20–25 ms of the start; the first requests find the handshake under way
 * or done instead of starting it then. On a registry 80 ms away that takes about a quarter of a
 * round trip off every command's first request, for the price of a connection that may go unused.
 *
 * Plain TCP only: the transport's agents take a socket by host and port and put TLS, with their
 * own trust and client-certificate settings, on top of it (withSpares, spare-sockets.ts). For an origin opened
 * with `tls`, the transport does that as soon as it exists rather than at the socket's first
 * request, so a connection first used a few round trips in (a token service's after the 401, an
 * upload session's after the tag's answer) finds its TLS handshake done too. A socket nobody takes
 * closes after WAITING_IDLE_MS (waiting-sockets.ts) or at close().
 */
import net, { type Socket } from 'node:net';
import { WaitingSockets } from './waiting-sockets.js';

/** Opens a TCP connection (net.connect's shape; tests pass their own). */
export type Connector = (port: number, host: string) => Socket;

/** The connections opened early, by "host:port". */
export class EarlySockets {
  private readonly waiting = new WaitingSockets();
  /** Each open() call: the origin (host without brackets), how many connections, whether it is https. */
  private readonly origins: { host: string; port: number; connections: number; tls: boolean }[] = [];

  constructor(private readonly connector: Connector = (port, host) => net.connect(port, host)) {}

  /** Opens `n` connections to host:port (a host as in a URL; IPv6 with or without brackets); `tls`: the origin is https. */
  open(host: string, port: number, n: number, tls = false): void {
    const key = originKey(host, port);
    this.origins.push({ host: bare(host), port, connections: n, tls });
    for (let i = 0; i < n; i++) {
      try {
        this.waiting.add(key, this.connector(port, bare(host)));
      } catch {
        return; // an address net refuses outright: the transport will say what is wrong with it
      }
    }
  }

  /** What was opened, for the debug log: "host:port ×n" per origin. */
  get opened(): string[] {
    return this.origins.map((o) => `${originKey(o.host, o.port)} ×${o.connections}`);
  }

  /** The origins opened for TLS (https), with their connection counts: the transport puts TLS on them at once. */
  get tlsOrigins(): { host: string; port: number; connections: number }[] {
    return this.origins.filter((o) => o.tls).map(({ host, port, connections }) => ({ host, port, connections }));
  }

  /** A connection to host:port that is open or still connecting, handed over for good; undefined when none is left. */
  take(host: string, port: number): Socket | undefined {
    return this.waiting.take(originKey(host, port));
  }

  /** Connections not taken yet (open or connecting). */
  get count(): number {
    return this.waiting.count();
  }

  /** Closes every connection nobody took. */
  close(): void {
    this.waiting.destroy();
  }
}

/** "[::1]" and "::1" are one host; names are case-insensitive. */
function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

function originKey(host: string, port: number): string {
  return `${bare(host)}:${port}`;
}
