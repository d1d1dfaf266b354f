/**
 * An answer that arrives while a request body is still being sent wins over the failed write that
 * follows it. A server, or a proxy in front of it, may answer a request from its headers alone and
 * close the connection without reading the body: nginx refuses a body over client_max_body_size
 * (1 MiB by default, and on ingress-nginx's proxy-body-size) with 413 as soon as it reads the
 * Content-Length (goharbor/harbor#3270, pulp/pulp-operator#330). The client's next write then
 * fails (EPIPE, or ECONNRESET) while the answer lies unread in the socket, and Node's socket, on a
 * failed write, destroys itself without reading it: the request failed as "connection closed while
 * sending", a network fault, and the same upload was sent again and again to the same refusal.
 *
 * Here such a write's callback is held instead of failing the socket: the body stops flowing (the
 * stream waits on its write) and the socket goes on reading. When the server answered, the answer
 * is parsed and the request resolves with it; when it did not, the connection's reset ends the
 * read side and the request fails then, with the write's error kept (`heldWriteError`) so that the
 * failure is named as it was. The transport's idle clock stays the backstop: nothing flows.
 */
import type { Socket } from 'node:net';

/** Write errors that say the peer is gone, after which its answer may still be readable. */
const PEER_GONE: ReadonlySet<string> = new Set(['EPIPE', 'ECONNRESET']);

type WriteCallback = (err?: Error | null) => void;
type Held = Socket & {
  _write(chunk: unknown, encoding: BufferEncoding, cb: WriteCallback): void;
  _writev?(chunks: unknown, cb: WriteCallback): void;
};

/** The write error held on each socket, once one was. */
const heldErrors = new WeakMap<Socket, Error>();
/** Sockets already watched (a keep-alive socket serves many requests). */
const watched = new WeakSet<Socket>();

/** Watches `socket`'s writes from now on (once per socket): one failed because the peer is gone is held, not passed on. */
export function holdWriteFailures(socket: Socket): void {
  if (watched.has(socket)) return;
  watched.add(socket);
  const s = socket as Held;
  const hold =
    (cb: WriteCallback): WriteCallback =>
    (err) => {
      const code = (err as NodeJS.ErrnoException | null | undefined)?.code;
      if (err && code && PEER_GONE.has(code)) {
        if (!heldErrors.has(socket)) heldErrors.set(socket, err);
        return; // never called: the body waits while the answer, if any, is read
      }
      cb(err);
    };
  // The two hooks a Writable calls to write (net.Socket implements both); the instance's own,
  // so the pool's other sockets and Node's prototype are untouched.
  const write = s._write;
  s._write = (chunk, encoding, cb) => write.call(s, chunk, encoding, hold(cb));
  const writev = s._writev;
  if (writev) s._writev = (chunks, cb) => writev.call(s, chunks, hold(cb));
}

/** The write error `socket` held (holdWriteFailures), if one was: what a request that got no answer failed of. */
export function heldWriteError(socket: Socket | undefined): Error | undefined {
  return socket ? heldErrors.get(socket) : undefined;
}
