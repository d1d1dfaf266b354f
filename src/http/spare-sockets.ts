/**
 * Connections opened before a request needs them: the spares a keep-alive agent keeps per pool
 * (Transport.preconnect), and the connections the CLI's launcher opened early (early-sockets.ts),
 * handed to the agent where it would connect. Apart from the axios adapter (axios-send.ts), which
 * only builds its agents with them, because this is Node agent plumbing with its own invariant:
 * a spare goes only where the agent would have made the same connection itself.
 */
import type http from 'node:http';
import type { Agent } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { EarlySockets } from './early-sockets.js';
import { WaitingSockets } from './waiting-sockets.js';

/** What an agent passes createConnection (Node sets `_agentKey` to the pool name it files the socket under). */
type ConnectOptions = Record<string, unknown> & { _agentKey?: string };

/**
 * Connections opened before any request needs them, per agent pool name: the agent hands one out
 * where it would otherwise connect (createConnection, the documented hook for custom agents). The
 * name is the agent's own getName() of the options it would build for a request to that origin
 * (host, port, and for TLS the agent's trust and client-certificate settings), so a spare is only
 * ever used where the agent would have made the same connection itself; if the names ever
 * differed, the spare would just go unused and close after WAITING_IDLE_MS (waiting-sockets.ts).
 */
export class Spares {
  private readonly waiting = new WaitingSockets();

  constructor(
    private readonly agent: Agent,
    private readonly connect: (o: ConnectOptions) => Socket,
  ) {}

  /**
   * Opens connections to `url`'s origin until the pool there (busy, idle and spare) has `n`, never
   * more than the agent's maxSockets: the agent uses no more at once, so one beyond would only be
   * a handshake to the registry that idles and closes (N requests waiting for an https registry's
   * first answer each asked for one more: 64 connections where 16 are used).
   */
  open(url: URL, wanted: number): void {
    const n = Math.min(wanted, this.agent.maxSockets);
    const tls = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const options: ConnectOptions = {
      ...(this.agent as unknown as { options: Record<string, unknown> }).options,
      host,
      port: Number(url.port || (tls ? 443 : 80)),
      // As the agent names a request's socket: SNI from the host name, none for an IP address.
      ...(tls ? { servername: isIP(host) ? '' : host } : {}),
    };
    delete options.keepAlive;
    delete options.maxSockets;
    delete options.scheduling;
    const key = this.agent.getName(options as unknown as http.AgentOptions & { host: string; port: number });
    const pooled = (this.agent.sockets[key]?.length ?? 0) + (this.agent.freeSockets[key]?.length ?? 0);
    for (let have = pooled + this.waiting.count(key); have < n; have++) this.waiting.add(key, this.connect({ ...options, _agentKey: key }));
  }

  /** A spare for the pool `key`, still open; undefined when there is none. */
  take(key: string | undefined): Socket | undefined {
    return this.waiting.take(key);
  }

  destroy(): void {
    this.waiting.destroy();
  }
}

/**
 * A keep-alive agent that can open connections ahead of its requests (see Spares). Where it would
 * connect, it takes a spare, else a connection the launcher opened early to that host and port
 * (TLS agents put their TLS on top of it), else connects.
 */
export function withSpares<A extends Agent>(agent: A, early: EarlySockets | undefined, tls: boolean): A & { spares: Spares } {
  const own = agent.createConnection.bind(agent) as unknown as (o: ConnectOptions, cb?: unknown) => Socket;
  const fromEarly = (o: ConnectOptions): Socket | undefined => {
    const raw = early?.take(String(o.host), Number(o.port));
    if (!raw) return undefined;
    // As the agent's own connections are (Node's agents default to noDelay): with Nagle's
    // algorithm on, the last small segment of a request (a body's tail, a chunked upload's end)
    // waits until all data in flight is acknowledged, a round trip on a remote registry.
    raw.setNoDelay(true);
    return tls ? own({ ...o, socket: raw }) : raw;
  };
  const spares = new Spares(agent, (o) => fromEarly(o) ?? own(o));
  (agent as unknown as { createConnection: (o: ConnectOptions, cb?: unknown) => Socket }).createConnection = (o, cb) => spares.take(o._agentKey) ?? fromEarly(o) ?? own(o, cb);
  return Object.assign(agent, { spares });
}
