import type { Logger } from 'pino';
import type { TetherEvent } from '../domain/events.js';
import type { Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode, isTetherError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { OwnerId } from './owner.js';
import type { Wakeups } from './wakeups.js';

/**
 * A turn's lease: waiting for it (FIFO behind earlier turns of the session, in this process or
 * another) and keeping it while the turn runs. The store grants, renews and fences it.
 */
export interface LeaseDeps {
  store: Store;
  owner: OwnerId;
  wakeups: Wakeups;
  logger: Logger;
  leaseTtlMs: number;
  emit(event: TetherEvent): void;
}

const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;
/** A safety net only: a turn of this process that ends always wakes the ones behind it. */
const OWN_TURN_RECHECK_MS = 5_000;

export type LeaseWait = { status: 'acquired'; lease: Lease; session: SessionRecord; turn: TurnRecord } | { status: 'gone'; error: TurnError };

export async function waitForLease(deps: LeaseDeps, turn: TurnRecord, sessionId: string, signal: AbortSignal): Promise<LeaseWait> {
  let delay = FIRST_POLL_MS;
  for (;;) {
    if (signal.aborted) {
      const withdrawn = await deps.store.abandonTurn(turn.id, { code: ErrorCode.INTERRUPTED, message: 'the turn was withdrawn before it started' });
      if (withdrawn) return { status: 'gone', error: { code: ErrorCode.INTERRUPTED, message: 'the turn was withdrawn before it started' } };
    }
    const got = await deps.store.acquireLease({ sessionId, turnId: turn.id, owner: deps.owner.id, ttlMs: deps.leaseTtlMs });
    if (got.status === 'acquired') {
      reportInterrupted(deps, got.interrupted);
      return got;
    }
    if (got.status === 'gone') {
      return { status: 'gone', error: got.turn?.error ?? { code: ErrorCode.NOT_FOUND, message: 'the turn is gone: its key was deleted' } };
    }
    // Behind a turn of this process, the wake-up at its end is enough: asking the store again
    // (a write transaction) on a timer would only cost. Another process's turn must be polled.
    const holder = (await deps.store.getSession(sessionId))?.lease?.owner;
    await deps.wakeups.wait(sessionId, holder === deps.owner.id ? OWN_TURN_RECHECK_MS : delay, signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}

/** Turns a lease takeover ended (their process stopped renewing) are announced as failed. */
export function reportInterrupted(deps: LeaseDeps, turns: TurnRecord[]): void {
  for (const stale of turns) {
    deps.emit({
      type: 'turn.failed',
      tenant: stale.tenant,
      key: stale.key,
      turnId: stale.id,
      sessionId: stale.sessionId,
      error: stale.error ?? { code: ErrorCode.INTERRUPTED, message: 'interrupted' },
      at: new Date().toISOString(),
    });
  }
}

/**
 * Renews a held lease every third of its TTL, so one slow write does not cost it. When the
 * store says it was taken over (LEASE_LOST), `onLost` stops the turn: another holder may run.
 */
export class LeaseKeeper {
  #lease: Lease;
  #lost = false;
  readonly #timer: NodeJS.Timeout;

  constructor(deps: LeaseDeps, lease: Lease, turn: TurnRecord, onLost: () => void) {
    this.#lease = lease;
    this.#timer = setInterval(() => {
      deps.store.renewLease(this.#lease, deps.leaseTtlMs).then(
        (renewed) => {
          this.#lease = renewed;
        },
        (err: unknown) => {
          if (isTetherError(err, ErrorCode.LEASE_LOST)) {
            this.#lost = true;
            deps.logger.warn({ turnId: turn.id, key: turn.key }, 'lease lost while the turn ran; stopping the agent');
            onLost();
          } else {
            deps.logger.warn({ err, turnId: turn.id }, 'lease renewal failed; will retry');
          }
        },
      );
    }, Math.max(250, Math.floor(deps.leaseTtlMs / 3)));
    this.#timer.unref();
  }

  /** The lease as last renewed: what fenced writes must present. */
  get lease(): Lease {
    return this.#lease;
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** Marks the lease lost from a refused fenced write. */
  markLost(): void {
    this.#lost = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
