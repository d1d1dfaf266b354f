/**
 * The credential one auth middleware sends: looked up once, on the first request that needs it,
 * and looked up again after a refusal (a credential helper's token may have run out), once per
 * refused credential. A module of its own because every scheme that sends it (Basic, a registry
 * token, a token service's login) renews it the same way.
 */
import type { Logger } from '../log.js';
import type { Attempt } from './attempt.js';
import { who } from './credential-id.js';
import type { Credential, SecretSink } from './credential-types.js';

export interface CredentialSourceOptions {
  registry: string;
  /** AuthOptions.credential. */
  credential: () => Promise<Credential | undefined>;
  /** AuthOptions.renewCredential; absent, a refusal is final. */
  renewCredential?: (refused: Credential) => Promise<Credential | undefined>;
  secrets?: SecretSink;
  log: Logger;
  /** Credentials (by `who`) accepted in this operation (AuthMemory.acceptedCredentials). */
  accepted: Set<string>;
  /** Credentials (by `who`) a renewal gave in this operation (AuthMemory.renewedCredentials). */
  renewed: Set<string>;
}

export class CredentialSource {
  private pending: Promise<Credential | undefined> | undefined;
  /** Renewals this middleware started or joined, by the refused credential's identity. */
  private readonly renewals = new Map<string, Promise<Credential | undefined>>();

  constructor(private readonly opts: CredentialSourceOptions) {}

  /** The credential: looked up on the first call, the renewed one after a renewal. */
  get(): Promise<Credential | undefined> {
    if (!this.pending) {
      this.pending = this.opts.credential().then((cred) => {
        this.opts.secrets?.addCredential(cred);
        return cred;
      }, (err: unknown) => {
        this.pending = undefined; // let a later request try again (e.g. a helper that timed out)
        throw err;
      });
    }
    return this.pending;
  }

  /**
   * The credential looked up again after `refused` was refused, for this request once
   * (attempt.renewed): `refused` itself when there is no other (no renewCredential, or the
   * stores hold the same). The new one serves this client's later requests too.
   */
  async renew(refused: Credential, attempt: Attempt): Promise<Credential | undefined> {
    const { renewCredential, accepted, renewed: renewedIds, log } = this.opts;
    const id = who(refused);
    if (!renewCredential || attempt.renewed || (renewedIds.has(id) && !accepted.has(id))) return refused;
    attempt.renewed = true;
    let renewed = this.renewals.get(id);
    if (!renewed) {
      log.debug(`auth: ${this.opts.registry} refused the credentials; looking them up again (a credential helper's token may have expired)`);
      renewed = renewCredential(refused).then((cred) => {
        this.opts.secrets?.addCredential(cred);
        if (cred) renewedIds.add(who(cred));
        return cred;
      });
      this.renewals.set(id, renewed);
      this.pending = renewed;
    }
    return renewed;
  }
}
