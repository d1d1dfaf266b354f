/**
 * AuthMemory: what one operation learns about authentication, shared by every client and auth
 * middleware it makes (one per registry and repository): each registry's scheme and challenge,
 * the tokens held, the credentials looked up and what the stores answered, and which credentials
 * were accepted or refused. Run state with a lifetime of its own (the operation's, where a
 * middleware lives for one client), so it is kept apart from the middleware that reads it.
 */
import type { AuthError } from '../errors.js';
import type { Challenge } from './challenge.js';
import type { CredentialFile } from './config-file.js';
import { who } from './credential-id.js';
import { helperReplyHolds, type HelperReply } from './credential-lookup.js';
import type { Credential } from './credential-types.js';
import { TokenCache } from './token-cache.js';

/**
 * What one operation has learned about each registry's authentication (its scheme and challenge)
 * and the tokens it holds, shared by every client the operation makes. A sync of many images makes
 * a client per image and repository; without this each one would start with a request that the
 * registry answers 401, and only then fetch its token: one round trip per image and registry for
 * nothing. With it, a client of a known registry fetches the token for its own scopes first.
 * Token cache keys hold the registry, the user and the scopes, so sharing is safe across roles.
 */
export class AuthMemory {
  readonly tokens = new TokenCache();
  /** How long the requests waiting for a registry's first answer wait at most (AuthMemoryOptions.firstAnswerWaitMs). */
  readonly firstAnswerWaitMs: number;

  constructor(opts: AuthMemoryOptions = {}) {
    this.firstAnswerWaitMs = opts.firstAnswerWaitMs ?? FIRST_ANSWER_WAIT_MS;
  }

  private readonly schemes = new Map<string, { mode: 'bearer' | 'basic'; challenge: Challenge }>();
  /**
   * Registries reached by probing ('auto') that have answered over TLS: https registries for every
   * client of the operation, so none sends credentials to a plain-http realm. Kept here, not per
   * client: a later client fetches its first token (from the learned challenge) before its own
   * first answer.
   */
  readonly answeredOverTls = new Set<string>();

  /** What is known of `registry`'s scheme, if anything. */
  known(registry: string): { mode: 'bearer' | 'basic'; challenge: Challenge } | undefined {
    return this.schemes.get(registry);
  }

  /** Per registry whose scheme was not known: the first answer's turn (firstAnswer). */
  private readonly firstAnswers = new Map<string, FirstAnswer>();

  /**
   * The turn of a request to `registry` while its scheme is not known (no challenge heard, none
   * presumed) and no probe will name it (an https registry): the first such request leads (`lead`:
   * it tells what its first attempt was answered, as soon as the headers come), and the ones sent
   * after it get that answer to wait for, or already have it (`answer`): the registry's challenge
   * (Bearer or Basic), to presume, or undefined (another answer, or none). A registry that answered
   * without a challenge is never waited for again; a first attempt that failed without an answer
   * (a socket error, a cancellation) or a 5xx says nothing, so the next request leads again.
   * A first attempt still without headers after `firstAnswerWaitMs` (a connection accepted and left
   * silent, which would hold them until its idle timeout) stalled: the ones waiting go on their
   * own, and so does every later one (a registry that left it silent is not waited for again).
   *
   * Where that answer named Basic, the request that leads sends its password next: until the
   * registry has judged it (`loginSettled`), the requests that would send a password to the
   * registry up front hold it (basicLogin), so that a wrong one is refused once, not once per
   * request waiting (`--images` failed logins at once, which can lock the account where the
   * registry counts them). That wait is bounded by `firstAnswerWaitMs` as the first one is.
   */
  firstAnswer(registry: string): { lead: FirstLead } | { wait: Readonly<FirstAnswer> } {
    const known = this.firstAnswers.get(registry);
    if (known) {
      if (!known.settled) known.waiting++;
      return { wait: known };
    }
    let settle!: (challenge: Challenge | undefined) => void;
    const entry: FirstAnswer = { answer: new Promise((resolve) => (settle = resolve)), settled: false, challenge: undefined, waiting: 0, stalled: false };
    this.firstAnswers.set(registry, entry);
    // One clock per registry, not per request waiting; cleared with the answer, and never what
    // keeps the process alive.
    const stall = setTimeout(() => {
      entry.stalled = true;
      end(undefined, true);
    }, this.firstAnswerWaitMs).unref();
    let judged: (() => void) | undefined;
    const end = (challenge: Challenge | undefined, kept: boolean): void => {
      if (entry.settled) return;
      clearTimeout(stall);
      entry.settled = true;
      entry.challenge = challenge;
      if (!kept && this.firstAnswers.get(registry) === entry) this.firstAnswers.delete(registry);
      if (challenge?.scheme === 'basic') {
        entry.login = new Promise<void>((resolve) => {
          const bound = setTimeout(() => judged?.(), this.firstAnswerWaitMs).unref();
          judged = () => {
            clearTimeout(bound);
            judged = undefined;
            entry.login = undefined;
            resolve();
          };
        });
      }
      settle(challenge);
    };
    return { lead: { answered: (challenge) => end(challenge, true), unanswered: () => end(undefined, false), loginSettled: () => judged?.() } };
  }

  /**
   * The registry's verdict on the password the request that led sends after a first answer
   * naming Basic (firstAnswer), while it is still to come: what a request about to send a
   * password to `registry` up front waits for. Undefined when none is pending.
   */
  basicLogin(registry: string): Promise<void> | undefined {
    return this.firstAnswers.get(registry)?.login;
  }

  /**
   * The first answer to `registry` that a request of the run has led (firstAnswer), settled or
   * still awaited, without joining it as a request that waits; undefined where none has led, or
   * its attempt said nothing (an error, a 5xx). For a token fetched ahead
   * (AuthMiddleware.prefetch): that answer names the challenge, so no request is sent to learn it.
   */
  firstAnswerLed(registry: string): Readonly<FirstAnswer> | undefined {
    return this.firstAnswers.get(registry);
  }

  /**
   * The `GET /v2/` sent ahead to each registry (by the key `known` takes) whose challenge nothing
   * else was going to name before the image it is for starts (AuthMiddleware.prefetch): at most
   * one per registry and run, whatever it answered, shared by the fetches ahead that wait for it.
   */
  readonly askedAhead = new Map<string, Promise<void>>();

  private readonly credentials = new Map<string, Promise<Credential | undefined>>();

  /**
   * Credential helpers' `get` replies, by helper and server URL. Credentials are looked up per
   * repository (an `auths` key may name a namespace), while a helper answers per registry: this
   * keeps a sync of many repositories at one helper run per registry, and one more each time the
   * registry refuses what it gave (renewCredential drops that reply). A helper that timed out or is
   * missing from PATH is kept as that failure, for the operation; one that timed out, for a minute
   * (HELPER_TIMEOUT_KEPT_MS; helperExecFromOptions in credential-lookup.ts).
   */
  readonly helperReplies = new Map<string, HelperReply>();

  /**
   * `credsStore` lookups that failed in this operation: warned about once and not run again (a reply that failed otherwise than
   * by a timeout or a helper missing from PATH is not kept in helperReplies, since a credHelpers failure may be passing).
   */
  readonly failedStores = new Set<string>();

  /** Credential files read in this operation, by path: looked up per repository, each is read once. */
  readonly fileReads = new Map<string, Promise<CredentialFile | undefined>>();

  /** The credential for `key` ("<role> <registry>/<repository>"), looked up once per operation. */
  credential(key: string, lookup: () => Promise<Credential | undefined>): Promise<Credential | undefined> {
    let c = this.credentials.get(key);
    if (!c) this.credentials.set(key, (c = lookup()));
    return c;
  }

  /** Renewals by credential key and the refused credential's identity (renewCredential). */
  private readonly renewals = new Map<string, Promise<Credential | undefined>>();
  /** Stored logins forgotten after a credential was refused, by its identity (forgetStoredLogins). */
  private readonly forgotten = new Map<string, Promise<void>>();

  /**
   * The credential for `key` looked up again after `refused` was refused, in place of the one
   * credential() keeps. A credential helper's reply is kept for the whole operation (one run per
   * registry), but its token may not last as long: docker-credential-gcloud's OAuth token lasts
   * 1 h, ECR's password 12 h, ACR's token 3 h, and a sync can run longer; a config file may have
   * been rewritten by another `docker login` meanwhile. So the helper replies holding the refused
   * secret, and the files read, are forgotten once per refused credential and the lookup runs
   * again (one more helper run, whatever the number of repositories refused with it). Explicit
   * and env credentials come back the same, and the caller then keeps the refusal.
   */
  renewCredential(key: string, refused: Credential, lookup: () => Promise<Credential | undefined>): Promise<Credential | undefined> {
    const id = who(refused);
    const k = `${key}\n${id}`;
    let renewed = this.renewals.get(k);
    if (!renewed) {
      let forgotten = this.forgotten.get(id);
      if (!forgotten) this.forgotten.set(id, (forgotten = this.forgetStoredLogins(refused)));
      renewed = forgotten.then(lookup);
      this.renewals.set(k, renewed);
      this.credentials.set(key, renewed);
    }
    return renewed;
  }

  /** Drops the helper replies that hold `refused`'s secret, and every file read, so that the next lookup reads them anew. */
  private async forgetStoredLogins(refused: Credential): Promise<void> {
    this.fileReads.clear();
    const secret = refused.password ?? refused.identityToken;
    if (!secret) return;
    await Promise.all(
      [...this.helperReplies].map(async ([k, kept]) => {
        const out = await kept.reply.catch(() => undefined);
        // Unless another renewal has replaced it meanwhile.
        if (out !== undefined && helperReplyHolds(out, secret) && this.helperReplies.get(k) === kept) this.helperReplies.delete(k);
      }),
    );
  }

  /**
   * Credentials refused in this operation, with the refusal: by registry, token realm and service
   * (a token service's 401), the same and the scopes asked for (a token service's 403), or by
   * registry alone (a Basic 401, a registry token refused), and the credential's identity (see
   * `who`). A token service's 401 does not depend on the scope asked for (missing rights give a
   * token with fewer actions, not a 401), so the same password would be refused for every image:
   * a sync of 2,000 images with a wrong one would send 2,000 failed logins, enough for an LDAP
   * or AD backend (Harbor, Quay, Artifactory) to lock the account, or Docker Hub to throttle.
   * A 403 may concern one repository only (refusalOf), so it stays with the scopes refused.
   * Remembered, a refused credential is sent once per run (per scope set, after a 403); every later
   * request that would send it fails at once with the same error. An anonymous token a token
   * service refused (its 401 or 403) is kept so too, with the scopes asked for (anonymousRefusal):
   * a read in flight when it came does not ask again.
   */
  readonly refusals = new Map<string, AuthError>();

  /**
   * Credentials (by `who`) a token service or a registry (Basic, a registry token) has accepted in
   * this operation, and those a renewal (renewCredential) gave. A refused credential is looked up
   * again if it was accepted before (it has expired) or came from the first lookup; one a renewal
   * gave that was refused without ever being accepted is final. So a helper that mints a new token
   * on each run, none of them accepted, costs one more failed login per run, not one per image.
   */
  readonly acceptedCredentials = new Set<string>();
  readonly renewedCredentials = new Set<string>();

  /**
   * The Bearer challenge each registry (by the key `known` takes) last named, in a 401 or to the
   * scheme probe. A registry mixing schemes by path (Harbor behind a proxy that answers some paths
   * itself, a Nexus with a connector per format) may answer the Basic credentials sent where it
   * named Basic with a 401 that names nothing: the token flow it named is the one to go back to
   * (challenge-answer.ts), whichever client of the run heard it.
   */
  readonly bearerNamed = new Map<string, Challenge>();

  /** Records `registry`'s scheme and challenge (first seen wins: a registry has one). */
  learn(registry: string, mode: 'bearer' | 'basic', challenge: Challenge): void {
    if (!this.schemes.has(registry)) this.schemes.set(registry, { mode, challenge });
  }
}

/** A registry's first answer while its scheme was not known (AuthMemory.firstAnswer). */
export interface FirstAnswer {
  /** Resolves with `challenge` once the first attempt is answered, or has failed. */
  answer: Promise<Challenge | undefined>;
  settled: boolean;
  /** The challenge of that answer (Bearer or Basic), once settled; undefined for any other answer or none. */
  challenge: Challenge | undefined;
  /** Requests that have waited for it so far. */
  waiting: number;
  /** Settled because the first attempt had no headers after AuthMemory.firstAnswerWaitMs. */
  stalled: boolean;
  /** Where the first answer named Basic: resolves once the password the request that led sends after it is judged (AuthMemory.basicLogin); undefined once it has been. */
  login?: Promise<void>;
}

/** Options of an AuthMemory. */
export interface AuthMemoryOptions {
  /** How long the requests waiting for a registry's first answer wait at most (ms, default FIRST_ANSWER_WAIT_MS); injectable for tests. */
  firstAnswerWaitMs?: number;
}

/**
 * The longest the requests sent after a registry's first one wait for its first attempt's headers
 * (AuthMemory.firstAnswer) before going on their own. No healthy registry needs it: its answer is
 * a 401 of a few hundred bytes with no storage behind it, one round trip once connected, and the
 * connection takes five at most (DNS, TCP, a TLS 1.2 handshake's two, a proxy's CONNECT): six
 * round trips, 4.2 s at a geostationary satellite link's 700 ms, the slowest healthy path. Going on too early costs what the wait saves, a 401 each, as before the wait existed;
 * waiting for a first attempt that stalls (accepted, never answered) would cost the attempt's idle
 * timeout (60 s by default) for every request of the run's start.
 */
export const FIRST_ANSWER_WAIT_MS = 5_000;

/** What the request that leads tells of its first attempt (AuthMemory.firstAnswer); only the first call counts. */
export interface FirstLead {
  /** The registry answered: with the challenge it named (Bearer or Basic), or undefined (no challenge). */
  answered(challenge: Challenge | undefined): void;
  /** The attempt ended without an answer that says anything (an error, a cancellation, a 5xx). */
  unanswered(): void;
  /**
   * The request is over as far as auth goes: the password it sent after a Basic first answer has
   * been accepted, or refused (and the refusal recorded), or it sent none. The requests holding
   * theirs (AuthMemory.basicLogin) go on.
   */
  loginSettled(): void;
}
