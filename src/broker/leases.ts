import type { Logger } from 'pino';
import { failedTurnEvent, type TetherEvent } from '../domain/events.js';
import type { Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode, isTetherError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { OwnerId } from './owner.js';
import type { UsageGate } from './usage-gate.js';
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
  /** Holds turns back, still `queued`, while the agent account's usage limit is reached. */
  usageGate: UsageGate;
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
    if (deps.usageGate.until !== null) {
      deps.logger.info({ turnId: turn.id, until: new Date(deps.usageGate.until).toISOString() }, 'turn waits for the usage limit to reset');
      await deps.usageGate.pass(signal);
      continue;
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
  for (const stale of turns) deps.emit(failedTurnEvent(stale));
}

/**
 * How much of the TTL may pass without a confirmed renewal before the holder gives the turn up:
 * the rest is the time its agent has to stop (INTERRUPT_GRACE_MS in the runner is 5 s of a 30 s
 * TTL) before the lease can be granted to another node.
 */
const GIVE_UP_FRACTION = 0.6;

/**
 * Renews a held lease every third of its TTL, so one slow write does not cost it. The turn is
 * stopped (`onLost`, which ends the agent) when the store says the lease was taken over
 * (LEASE_LOST), and also when no renewal has been confirmed for most of the TTL — the store
 * unreachable, or this process paused — because by the time the store answers again the lease
 * may belong to another node: at most one turn of a session runs anywhere.
 */
export class LeaseKeeper {
  #lease: Lease;
  #lost = false;
  readonly #timer: NodeJS.Timeout;
  /** performance.now() when the last confirmed renewal (or the grant) was asked for. */
  #confirmedAt = performance.now();
  #renewing = false;

  /**
   * `onInterruptRequested`: a renewal says a stop was asked for, from another process or node
   * (`store.requestInterrupt`), so it arrives within a sixth of the TTL.
   */
  constructor(deps: LeaseDeps, lease: Lease, turn: TurnRecord, onLost: () => void, onInterruptRequested?: () => void) {
    this.#lease = lease;
    const lose = (why: string): void => {
      if (this.#lost) return;
      this.#lost = true;
      deps.logger.warn({ turnId: turn.id, key: turn.key }, `${why}; stopping the agent`);
      onLost();
    };
    this.#timer = setInterval(() => {
      if (this.#lost) return;
      if (performance.now() - this.#confirmedAt > deps.leaseTtlMs * GIVE_UP_FRACTION) {
        lose('lease renewal unconfirmed for most of its TTL (store unreachable?)');
        return;
      }
      // A renewal that hangs (a dead connection) must not pile up more behind it.
      if (this.#renewing) return;
      this.#renewing = true;
      const askedAt = performance.now();
      deps.store
        .renewLease(this.#lease, deps.leaseTtlMs)
        .then(
          (renewed) => {
            const { interruptRequested, ...lease } = renewed;
            this.#lease = lease;
            this.#confirmedAt = askedAt;
            if (interruptRequested) onInterruptRequested?.();
          },
          (err: unknown) => {
            if (isTetherError(err, ErrorCode.LEASE_LOST)) lose('lease lost while the turn ran');
            else deps.logger.warn({ err, turnId: turn.id }, 'lease renewal failed; will retry');
          },
        )
        .finally(() => {
          this.#renewing = false;
        });
    }, Math.max(100, Math.floor(deps.leaseTtlMs / 6)));
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
