/**
 * Restarts above the request level, for the pipelines: a transfer whose body cannot be replayed
 * (a layer built as it streams) starts again as a whole, within one retry budget, and never after a
 * failure the transport has already retried (so retries do not multiply). The policy and the budget
 * are the transport's (src/http/retry.ts); the pipelines reach them here, through the transfer
 * layer, as blobs.ts restarts a streamed blob. The abortable wait between attempts is the leaf
 * src/abort.ts's sleep.
 */
import type { HostSilence } from '../http/host-silence.js';
import { restartOutcome, RetryBudget, type RetryPolicy } from '../http/retry.js';

/** One restart loop's budget: ask `delayAfter` on each failure, then `wait` that long (or give up). */
export class Restarts {
  private readonly budget: RetryBudget;
  /** `silence`: the transport's (Transport.silence), so that a transfer timed out at a silent host is not restarted. */
  constructor(
    policy: RetryPolicy,
    private readonly silence?: HostSilence,
  ) {
    this.budget = new RetryBudget(policy);
  }
  /**
   * Milliseconds to wait before the next attempt after `err`; null when it is not to be restarted:
   * not transient, already retried by the transport, or the budget is spent.
   */
  delayAfter(err: unknown): number | null {
    const outcome = restartOutcome(err, this.silence);
    return outcome ? this.budget.next(outcome) : null;
  }
  /** Restarts taken so far. */
  get spent(): number {
    return this.budget.spent;
  }
}
