/** What the clients of one operation share (ClientMemory). */
import { AuthMemory } from '../auth/auth-memory.js';
import { MirrorHealth } from './mirrors.js';
import type { InterruptedSession } from './registry-client.js';

/**
 * What an operation learns once for all the clients it makes: each registry's auth (scheme,
 * tokens, credential lookups) and which mirrors failed; and who its clients tell of the upload
 * sessions they cancel on their own (InterruptedSession: the run's record names those the registry
 * keeps). Run state, carried by the operation (TransferRun), never a module-level map.
 */
export class ClientMemory {
  readonly auth = new AuthMemory();
  readonly mirrors = new MirrorHealth();
  constructor(readonly onInterruptedSession?: (s: InterruptedSession) => void) {}
}
