/**
 * What one auth middleware knows of its registry's authentication: the scheme its requests use
 * ('unknown' until a challenge, or the run's AuthMemory, says), the challenge to answer (heard
 * from the registry, or presumed before it has spoken: presumed-challenge.ts), and the scopes its
 * challenges asked for beyond the client's. The state each scheme's module (basic-auth.ts,
 * bearer-auth.ts, registry-token-auth.ts) and the challenge answer read and move on; what the
 * whole operation learns is AuthMemory's, which this hands the scheme to once it is settled.
 */
import type { Logger } from '../log.js';
import type { AuthMemory } from './auth-memory.js';
import type { Challenge } from './challenge.js';

export type Mode = 'unknown' | 'bearer' | 'basic' | 'registry-token';

export interface SchemeStateOptions {
  registry: string;
  /** What the operation knows of the registry already (AuthMemory.known). */
  known?: { mode: 'bearer' | 'basic'; challenge: Challenge };
  /** The challenge the registry is presumed to send; not used where something is known. */
  presumed?: Challenge;
  memory?: AuthMemory;
  /** The registry's key in AuthMemory: its host, and the API path where there is one. */
  memoryKey: string;
  log: Logger;
}

export class SchemeState {
  mode: Mode;
  /** The challenge presumed before the registry has sent one; dropped once it has, or when its realm fails. */
  presumed: Challenge | undefined;
  /** The challenge to answer: the registry's own, the run's memory's, or the presumed one. */
  learned: Challenge | undefined;
  /** Scopes the registry's challenges asked for beyond the client's, asked for up front from then on. */
  readonly learnedScopes = new Set<string>();

  constructor(private readonly opts: SchemeStateOptions) {
    // What the registry has not said yet may be known anyway; until it speaks, `presumed` is set.
    this.presumed = opts.known ? undefined : opts.presumed;
    this.mode = opts.known?.mode ?? (this.presumed ? 'bearer' : 'unknown');
    this.learned = opts.known?.challenge ?? this.presumed;
  }

  /**
   * Takes what the run's memory knows of the registry where this middleware knows nothing of its
   * own yet, or only presumes: another client of the run, or the scheme probe (hear), may have
   * heard the registry's challenge since this one was made. A sync makes the clients of its first
   * images together, before anything has answered; read only when they were made, the memory left
   * each one to send its first request without credentials and pay a 401 of its own.
   */
  recall(): void {
    if (!this.knowsNothing()) return;
    const known = this.opts.memory?.known(this.opts.memoryKey);
    if (known) this.take(known.mode, known.challenge);
  }

  /**
   * The registry's challenge, heard in the answer to a request sent outside this middleware (the
   * scheme probe's GET /v2/, registry/scheme-probe.ts): learned as a 401 to a request teaches it,
   * here and in the run's memory, so that the requests waiting for the probe send their
   * credentials (a token for their own scopes) with their first attempt.
   */
  hear(challenge: Challenge): void {
    const mode = challenge.scheme === 'basic' ? 'basic' : 'bearer';
    this.opts.memory?.learn(this.opts.memoryKey, mode, challenge);
    this.noteBearer(challenge);
    if (this.knowsNothing()) this.take(mode, challenge);
  }

  /** The challenge a 401 (or Nexus's 400) from the registry has just named: the one to answer from now on. */
  named(challenge: Challenge): void {
    this.learned = challenge;
    this.noteBearer(challenge);
  }

  /**
   * The Bearer challenge the registry last named, to this middleware or another client of the run
   * (AuthMemory.bearerNamed), even where a Basic one has replaced it in `learned` since; undefined
   * where it never named one. Presumed challenges are not the registry's word and do not count.
   */
  namedBearer(): Challenge | undefined {
    return this.lastBearer ?? this.opts.memory?.bearerNamed.get(this.opts.memoryKey);
  }

  private lastBearer: Challenge | undefined;

  private noteBearer(challenge: Challenge): void {
    if (challenge.scheme !== 'bearer') return;
    this.lastBearer = challenge;
    this.opts.memory?.bearerNamed.set(this.opts.memoryKey, challenge);
  }

  /**
   * The challenge another request of the run was just answered by, before the run has settled on
   * it (AuthMemory.firstAnswer): presumed here as a known registry's is (presumed-challenge.ts), so
   * a head start only: this request's own 401 naming another challenge replaces it, and a token
   * service that fails is forgotten (challenge-answer.ts, bearer-auth.ts). Of a Bearer challenge
   * only its realm and service are taken: the scope named was the other request's. A Basic one has
   * the password sent up front (middleware.ts presumes it only for a username and password).
   */
  presume(challenge: Challenge): void {
    if (this.mode !== 'unknown') return;
    if (challenge.scheme === 'basic') {
      this.presumed = challenge;
      this.learned = challenge;
      this.mode = 'basic';
      return;
    }
    const { realm, service } = challenge.params;
    if (challenge.scheme !== 'bearer' || realm === undefined) return;
    this.presumed = { scheme: 'bearer', params: service === undefined ? { realm } : { realm, service } };
    this.learned = this.presumed;
    this.mode = 'bearer';
  }

  /** Nothing heard from the registry by this middleware: its scheme is unknown, or only presumed. */
  private knowsNothing(): boolean {
    return this.mode === 'unknown' || (this.presumed !== undefined && this.learned === this.presumed);
  }

  /** The registry's own challenge, in place of what was presumed. */
  private take(mode: 'basic' | 'bearer', challenge: Challenge): void {
    this.mode = mode;
    this.learned = challenge;
    this.presumed = undefined;
  }

  /**
   * The scheme the registry has just been answered with, settled for this middleware and told to
   * the run's memory; its challenge is the one to answer from now on (a Bearer one gone back to
   * after a bare 401 may not be the last one named: challenge-answer.ts).
   */
  settle(mode: 'basic' | 'bearer', challenge: Challenge): void {
    this.mode = mode;
    this.learned = challenge;
    this.opts.memory?.learn(this.opts.memoryKey, mode, challenge);
  }

  /** Drops the presumed challenge: the registry's own 401 decides from now on. */
  forgetPresumed(why: string): void {
    if (!this.presumed) return;
    this.opts.log.debug(`auth: ${why}; asking ${this.opts.registry} for its challenge`);
    if (this.learned === this.presumed) {
      this.learned = undefined;
      this.mode = 'unknown';
    }
    this.presumed = undefined;
  }
}
