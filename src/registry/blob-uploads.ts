/**
 * The blob writes of the Distribution API: a cross-repository mount, and an upload session
 * (`POST /v2/<repo>/blobs/uploads/`) filled by one monolithic PUT, or by PATCHes (streamed or in
 * chunks) closed with an empty `PUT ?digest=`, or cancelled with a DELETE. Each answer's Location
 * is the session's state from then on; an interrupted request is let finish where it can
 * (upload-grace.ts) so that the session is one the run can still cancel. Which method a registry
 * takes, and the fallbacks, are the transfer layer's (src/transfer/upload.ts).
 */
import { Transform, type Readable } from 'node:stream';
import { repositoryScope } from '../auth/scope.js';
import { AbortedError, DigestMismatchError, ProtocolError, RegpushError } from '../errors.js';
import { drain } from '../http/response.js';
import { safeHost } from '../http/send-errors.js';
import { redactTyped } from '../redact.js';
import type { HttpRequest, HttpResponse, RequestBody } from '../http/types.js';
import { UPLOAD_LOCATION, type InterruptedSession, type MountResult, type UploadSession } from './registry-client.js';
import type { RegistryHttp } from './registry-http.js';
import { CANCEL_TIMEOUT_MS, ownCancel, sendWithGrace } from './upload-grace.js';

/** A PATCH answer whose Range ended before the bytes sent: what it said, and the last byte sent. */
interface ShortRange {
  said: string;
  sent: number;
}

export class BlobUploads {
  /**
   * By session URL (the Location a PATCH answered): the last short Range answered on that session,
   * until the session is closed or cancelled, for the closing PUT's DIGEST_INVALID to name.
   */
  private readonly shortRanges = new Map<string, ShortRange>();

  constructor(
    private readonly http: RegistryHttp,
    /** Told of each session a POST opens as the operation is interrupted, which this client then cancels (InterruptedSession). */
    private readonly onInterruptedSession?: (s: InterruptedSession) => void,
  ) {}

  /** Cross-repository mount: 201 = mounted; 202 = the registry opened an upload instead. */
  async mount(repo: string, digest: string, fromRepo: string): Promise<MountResult> {
    const http = this.http;
    const url = await http.url(`${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`);
    const what = `aborted: mount ${digest} into ${http.registry}/${repo}`;
    // Not cut by an interruption, as start(): a registry that cannot mount opens a session
    // (202), and one opened while the run was stopping is cancelled here, not left behind unknown.
    const own = ownCancel(http.registry, repo, this.onInterruptedSession);
    let res: HttpResponse;
    try {
      let interrupted: boolean;
      ({ res, interrupted } = await sendWithGrace(http, { method: 'POST', url, scopes: [repositoryScope(fromRepo, ['pull'])] }, what, own.interrupted));
      if (interrupted) {
        await drain(res);
        if (res.status === 202) own.cancelled(await this.cancel(this.location(res, url)));
        throw new AbortedError(what, { details: { registry: http.registry } });
      }
    } finally {
      own.cancelled(true);
    }
    if (res.status === 201) {
      await drain(res);
      return { mounted: true, stated: res.headers['docker-content-digest'] === digest };
    }
    if (res.status === 202) {
      await drain(res);
      return { mounted: false, uploadUrl: this.location(res, url) };
    }
    return http.fail(res, `mount ${digest} from ${fromRepo} into ${http.registry}/${repo}`);
  }

  /** POST to open an upload session. */
  async start(repo: string): Promise<UploadSession> {
    const http = this.http;
    const url = await http.url(`${repo}/blobs/uploads/`);
    const op = http.signal;
    if (op?.aborted) throw new AbortedError(`aborted: POST ${url}`);
    // Not cut by the interruption: a POST cut after the registry opened the session would leave
    // that session behind with nobody knowing its URL. One it opened is cancelled here.
    const own = ownCancel(http.registry, repo, this.onInterruptedSession);
    try {
      const { res, interrupted } = await sendWithGrace(http, { method: 'POST', url }, `aborted: POST ${url}`, own.interrupted);
      if (res.status !== 202) {
        if (interrupted) {
          void drain(res); // the run is stopping: no request follows on this connection
          throw new AbortedError(`aborted: POST ${url}`);
        }
        return http.failWrite(res, `start upload to ${http.registry}/${repo}`, repo, 'the upload\'s POST');
      }
      await drain(res);
      const min = Number(res.headers['oci-chunk-min-length']);
      const session = { url: this.location(res, url), minChunk: Number.isFinite(min) && min > 0 ? min : undefined };
      if (interrupted) {
        own.cancelled(await this.cancel(session.url));
        throw new AbortedError(`aborted: POST ${url}`);
      }
      return session;
    } finally {
      own.cancelled(true);
    }
  }

  /**
   * Monolithic upload: one PUT with the whole body, its digest and length known. Not sent again by
   * the transport, a Buffer included (HttpRequest.replayable): distribution writes a body as it
   * arrives, so after a connection broken mid-body, or a proxy's 502/504 once it passed part of
   * it on, the session holds more than its URL's `_state` says, and the same PUT again is answered
   * 404 BLOB_UPLOAD_INVALID. The caller starts the blob again on a new session (transfer/upload.ts).
   */
  async put(session: string, digest: string, size: number, body: RequestBody): Promise<boolean> {
    const req: Omit<HttpRequest, 'signal'> = {
      method: 'PUT',
      url: withQuery(session, 'digest', digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      replayable: false,
      label: 'blob PUT',
    };
    // A body in memory is let finish after an interruption (the blob is then stored, no session
    // stays). A streamed one is cut: its source stops with the same interruption, and a length
    // once announced cannot be ended early, so that session stays until the registry purges it.
    if (!Buffer.isBuffer(body)) return this.checkUploadDone(await this.http.request(req), digest);
    return this.closingAnswer(await sendWithGrace(this.http, req, `aborted: PUT upload to ${this.http.registry}`), digest);
  }

  /**
   * One PATCH: streamed (no length, chunked transfer encoding) or a chunk with `range`; returns the
   * next Location. Interrupted, a chunk held in memory is let finish and a streamed body is ended
   * where its source stopped (sendWithGrace); the AbortedError then carries the Location answered.
   * Never sent again by the transport, as put(); a body factory is called once.
   */
  async patch(session: string, body: RequestBody, range?: { start: number; end: number }): Promise<string> {
    const http = this.http;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (range) {
      headers['content-range'] = `${range.start}-${range.end}`;
      headers['content-length'] = String(range.end - range.start + 1);
    }
    const op = http.signal;
    // The last byte the session must hold once this PATCH is taken: a chunk's end, or (the one
    // streamed PATCH of a session, from its start) the length of a body held in memory.
    const lastByte = (b: RequestBody): number | undefined => (range ? range.end : Buffer.isBuffer(b) ? b.length - 1 : undefined);
    if (!op) return this.patchDone(await http.request({ method: 'PATCH', url: session, headers, body, replayable: false, label: 'blob PATCH' }), session, lastByte(body));
    if (op.aborted) throw new AbortedError(`aborted: PATCH upload to ${http.registry}`);
    let payload = body;
    if (typeof body === 'function' && !range) {
      const made = body();
      if (!Buffer.isBuffer(made)) return this.streamedPatch(session, headers, made);
      payload = made;
    }
    // A body in memory (a chunk): let it finish, so that the session's state stays one we know.
    const { res, interrupted } = await sendWithGrace(
      http,
      { method: 'PATCH', url: session, headers, body: payload, replayable: false, label: 'blob PATCH' },
      `aborted: PATCH upload to ${http.registry}`,
    );
    if (interrupted) this.interruptedUpload(res, session, 'PATCH upload');
    return this.patchDone(res, session, lastByte(payload));
  }

  /**
   * A PATCH's answer: the next Location. `lastByte`: the last byte the session holds once the
   * PATCH is taken. A Range (`0-<end>`) that ends before it fails nothing: Amazon ECR stores every
   * chunk while its Range stays at the first chunk's end (aws/containers-roadmap#2831,
   * crashappsec/chalk#682, dotnet/sdk#33019), and older Zot answered the chunk's own range
   * (regclient#961, opencontainers/distribution-spec#581), at registries where the closing PUT's
   * digest check passes. That check decides; the short Range is logged, and kept with the session
   * for a DIGEST_INVALID of that PUT to name (complete()). No Range, as many registries send, is fine.
   */
  private async patchDone(res: HttpResponse, session: string, lastByte?: number): Promise<string> {
    const registry = this.http.registry;
    // ECR answers 201 to a PATCH (aws/containers-roadmap#2831).
    if (res.status !== 202 && res.status !== 201 && res.status !== 204) return this.http.fail(res, `PATCH upload to ${registry}`);
    await drain(res);
    const next = this.location(res, session);
    const earlier = this.shortRanges.get(session);
    this.shortRanges.delete(session);
    const said = res.headers['range'];
    const end = /^(?:bytes=)?0-(\d+)$/.exec(said?.trim() ?? '')?.[1];
    if (lastByte !== undefined && lastByte >= 0 && end !== undefined && Number(end) < lastByte) {
      this.http.logger.debug(`${registry} answered a PATCH with Range ${JSON.stringify(said)} after it was sent up to byte ${lastByte}; the closing PUT's digest check decides`);
      this.shortRanges.set(next, { said: said!, sent: lastByte });
    } else if (earlier && end === undefined) {
      this.shortRanges.set(next, earlier);
    }
    return next;
  }

  /**
   * A streamed PATCH (no length, chunked transfer encoding) that an interruption ends instead of
   * cutting: the request reads from a relay this method owns, so it can end the body where the
   * source stopped; the registry then answers 202 with the session's current Location (and Range),
   * which the caller cancels. Cut instead, the session could not be cancelled (sendWithGrace).
   */
  private async streamedPatch(session: string, headers: Record<string, string>, source: Readable): Promise<string> {
    // Counts what it passes on: the session's first PATCH, so its answer's Range should end at the last of those bytes.
    let passed = 0;
    const relay = new Transform({
      highWaterMark: 64 * 1024,
      transform(chunk: Buffer, _enc, done) {
        passed += chunk.length;
        done(null, chunk);
      },
    });
    let interrupted = false;
    // The source's own failure (a local input error) fails the request with it, unless the
    // interruption already ended the body (the source is then destroyed by the same abort).
    const onSourceError = (err: Error): void => {
      if (!interrupted) relay.destroy(err);
    };
    // A source that failed already (a local input error met while the session opened) is the answer.
    if (source.errored) throw source.errored;
    source.on('error', onSourceError);
    source.pipe(relay);
    const end = (): void => {
      interrupted = true;
      source.unpipe(relay);
      if (!relay.destroyed) relay.end();
    };
    try {
      const sent = await sendWithGrace(
        this.http,
        { method: 'PATCH', url: session, headers, body: () => relay, replayable: false, label: 'blob PATCH' },
        `aborted: PATCH upload to ${this.http.registry}`,
        end,
      );
      if (sent.interrupted) this.interruptedUpload(sent.res, session, 'PATCH upload');
      return await this.patchDone(sent.res, session, passed - 1);
    } finally {
      source.off('error', onSourceError);
    }
  }

  /**
   * The end of an upload request that the interruption let finish: its answer's Location is the
   * session's state now, handed to the caller (uploadLocationOf) so that it cancels with it.
   */
  private interruptedUpload(res: HttpResponse, session: string, what: string): never {
    void drain(res); // the run is stopping: no request follows on this connection
    let next: string | undefined;
    if (res.status === 202 || res.status === 201 || res.status === 204) {
      try {
        next = this.location(res, session);
      } catch {
        /* no Location: the caller has only the URL it held */
      }
    }
    throw new AbortedError(`aborted: ${what} to ${this.http.registry}`, { details: { registry: this.http.registry, ...(next ? { [UPLOAD_LOCATION]: next } : {}) } });
  }

  /** Closes a streamed upload with an empty `PUT ?digest=`; the registry verifies the digest. */
  async complete(session: string, digest: string): Promise<boolean> {
    const short = this.shortRanges.get(session);
    this.shortRanges.delete(session);
    // Let finish after an interruption: it has no body to cut, and once answered no session stays.
    const sent = await sendWithGrace(this.http, { method: 'PUT', url: withQuery(session, 'digest', digest), headers: { 'content-length': '0' } }, `aborted: PUT upload to ${this.http.registry}`);
    try {
      return await this.closingAnswer(sent, digest);
    } catch (err) {
      // A digest refused after a PATCH answer said the session held less than was sent: both offsets, which may tell why.
      if (short && err instanceof RegpushError && err.details.registryCodes?.includes('DIGEST_INVALID')) {
        throw new DigestMismatchError(
          `${err.message} (a PATCH before it was answered with Range ${JSON.stringify(short.said)} after bytes 0-${short.sent} were sent)`,
          { cause: err, details: err.details },
        );
      }
      throw err;
    }
  }

  /** The answer to a closing PUT let finish by sendWithGrace: a stored blob is a success even after an interruption. */
  private async closingAnswer({ res, interrupted }: { res: HttpResponse; interrupted: boolean }, digest: string): Promise<boolean> {
    if (interrupted && res.status !== 201 && res.status !== 200 && res.status !== 204) {
      void drain(res); // the run is stopping: no request follows on this connection
      throw new AbortedError(`aborted: PUT upload to ${this.http.registry}`, { details: { registry: this.http.registry } });
    }
    return this.checkUploadDone(res, digest);
  }

  /**
   * Cancels an upload session; errors ignored (best effort cleanup). Not tied to the operation's
   * signal, so it still runs after Ctrl-C, but bounded in time so it cannot hold up the exit.
   * True when nothing of the session stays in the registry: the cancel confirmed, or a 404
   * BLOB_UPLOAD_UNKNOWN, distribution's answer for a session it does not have (its blob was stored
   * by a closing PUT whose answer an interruption cut off, or it was cancelled or purged already).
   * A 404 BLOB_UPLOAD_INVALID is a session it has, whose state the URL is behind: it stays.
   *
   * Not sent to a host gone silent (http/host-silence.ts): it would wait out its bound (the idle
   * timeout where shorter) for an answer that host has given no request since, holding the run's
   * failure that long per session, for a cleanup that is best effort anyway. False then: the
   * session is named as possibly staying, as one whose cancel went unanswered would be; a
   * registry that recovers purges it with its other stale uploads.
   */
  async cancel(session: string): Promise<boolean> {
    this.shortRanges.delete(session);
    const host = safeHost(session);
    const silent = this.http.transport.silence.silent(host);
    if (silent !== undefined) {
      this.http.logger.debug(`upload session at ${this.http.registry}: not cancelled, ${host} has answered nothing since ${silent} requests there timed out`);
      return false;
    }
    try {
      const res = await this.http.send({ method: 'DELETE', url: session, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS), label: 'upload DELETE' });
      if (res.status === 404) {
        const err = await this.http.error(res, 'upload DELETE');
        return err.details.registryCodes?.includes('BLOB_UPLOAD_UNKNOWN') === true;
      }
      await drain(res);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false; // best effort: the caller says so
    }
  }

  /** Checks an upload's closing answer; true when it is a 201 naming exactly `digest`. */
  private async checkUploadDone(res: HttpResponse, digest: string): Promise<boolean> {
    const registry = this.http.registry;
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) return this.http.fail(res, `upload of ${digest} to ${registry}`);
    await drain(res);
    const stated = res.headers['docker-content-digest'];
    if (stated && stated.split(':')[0] === digest.split(':')[0] && stated !== digest) {
      throw new DigestMismatchError(`upload of ${digest} to ${registry}: registry stored ${stated}`, { details: { registry } });
    }
    return res.status === 201 && stated === digest;
  }

  /** The session URL an answer names (Location, resolved against the request's URL): http(s) only, never a downgrade to http. */
  private location(res: HttpResponse, requestUrl: string): string {
    const registry = this.http.registry;
    const loc = res.headers['location'];
    if (!loc) throw new ProtocolError(`${registry} opened an upload without a Location header`, { details: { registry } });
    let url: URL;
    try {
      url = new URL(loc, requestUrl);
    } catch {
      throw new ProtocolError(`${registry} sent an invalid upload Location ${shownLocation(loc)}`, { details: { registry } });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ProtocolError(`${registry} sent an upload Location with scheme ${url.protocol} ${shownLocation(loc)} (only http and https are followed)`, { details: { registry } });
    }
    if (new URL(requestUrl).protocol === 'https:' && url.protocol === 'http:') {
      throw new ProtocolError(`${registry} sent an upload Location that downgrades to http ${shownLocation(loc)}`, { details: { registry } });
    }
    return url.toString();
  }
}

/**
 * A refused Location as its error line quotes it, whole, so the registry's (or a proxy's) fault can
 * be seen: as sent (before resolving), its user information and signed query parameters redacted
 * (redactTyped: a value of any scheme), JSON-quoted so that nothing in it can break the line, and
 * capped so that a hostile header cannot flood the terminal.
 */
function shownLocation(loc: string): string {
  const redacted = redactTyped(loc);
  return JSON.stringify(redacted.length > 200 ? `${redacted.slice(0, 200)}…` : redacted);
}

/** Adds or replaces one query parameter, keeping the upload state parameters the registry put there. */
export function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/**
 * True when an error means "try the next strategy" rather than "stop the job": a mount the
 * registry will not do (src/transfer/blobs.ts streams the blob instead).
 */
export function isFallbackable(err: unknown): boolean {
  if (!(err instanceof RegpushError)) return false;
  const s = err.details.status;
  return s === 400 || s === 401 || s === 403 || s === 404 || s === 405;
}
