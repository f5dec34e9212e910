import type { ApprovalRecord } from '../../domain/approvals.js';
import type { SessionRecord, TurnError, TurnRecord } from '../../domain/types.js';

/** What the janitor and start-up run: recovery of dead owners' turns, idle expiry, the session cap. */
export interface Recovery {
  /**
   * Frees leases whose owner is gone and ends the turns they left: `running` turns under a
   * lease that expired or whose owner `isOwnerAlive` says is dead become `interrupted`. `queued`
   * turns accepted by a dead owner are handed to `adoptQueuedAs` (they never started, so the
   * adopter can run them) or, without one, become `interrupted` too. A running turn that waits on
   * a person (an approval whose decision its agent was not given) is handed to `adoptQueuedAs`
   * too, queued again at the head of its session, to go on from the decision. Used at start-up and
   * by the janitor.
   */
  recover(input: RecoverInput): Promise<RecoverResult>;

  /** Closes up to `limit` quiet live sessions whose idle TTL has passed, as `expired`. */
  sweepExpired(limit: number): Promise<SessionRecord[]>;

  /** Evicts least recently used quiet live sessions until at most `maxSessions` are live. */
  enforceCap(maxSessions: number, limit: number): Promise<SessionRecord[]>;
}

export interface RecoverInput {
  /**
   * True while the broker process named by a lease or turn owner may still be running. Called
   * inside the store's transaction: synchronous, and doing no I/O.
   */
  isOwnerAlive: (owner: string) => boolean;
  error: TurnError;
  /** Owner to hand the queued turns of dead owners to; absent: they are interrupted. */
  adoptQueuedAs?: string;
}

export interface RecoverResult {
  /** Turns that were running (or queued, without an adopter) under a dead owner: now `interrupted`. */
  interrupted: TurnRecord[];
  /** Leases freed. */
  freed: number;
  /** The pending approvals of the `interrupted` turns, ended with them (`expired` by `interrupt`). */
  withdrawn: ApprovalRecord[];
  /**
   * Queued turns of dead owners, and running ones that wait on a person, now owned by
   * `adoptQueuedAs`, oldest first; `queued`.
   */
  adopted: TurnRecord[];
}
