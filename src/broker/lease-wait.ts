import type { Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode } from '../errors.js';
import type { BrokerContext } from './context.js';

/** What waiting for a lease needs of the broker. */
export type LeaseWaitContext = Pick<BrokerContext, 'store' | 'owner' | 'wakeups' | 'log' | 'config' | 'usageGates' | 'emitter'>;

const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;
/** A safety net only: a turn of this process that ends always wakes the ones behind it. */
const OWN_TURN_RECHECK_MS = 5_000;

export type LeaseWait = { status: 'acquired'; lease: Lease; session: SessionRecord; turn: TurnRecord } | { status: 'gone'; error: TurnError };

const WITHDRAWN: TurnError = { code: ErrorCode.INTERRUPTED, message: 'the turn was withdrawn before it started' };

/**
 * Waits, FIFO behind the earlier turns of its session (in this process or another), until the
 * store grants `turn` its session's lease. While the agent account's usage limit holds, the turn
 * waits `queued` without asking. Aborting `signal` withdraws a turn that has not started.
 */
export async function waitForLease(ctx: LeaseWaitContext, turn: TurnRecord, session: Pick<SessionRecord, 'id' | 'backend'>, signal: AbortSignal): Promise<LeaseWait> {
  const sessionId = session.id;
  const gate = ctx.usageGates.of(session.backend);
  let delay = FIRST_POLL_MS;
  for (;;) {
    if (signal.aborted && (await ctx.store.abandonTurn(turn.id, WITHDRAWN))) return { status: 'gone', error: WITHDRAWN };
    const until = gate.until;
    if (until !== null) {
      ctx.log.info({ turnId: turn.id, until: new Date(until).toISOString() }, 'turn waits for the usage limit to reset');
      await gate.pass(signal);
      continue;
    }
    const got = await ctx.store.acquireLease({ sessionId, turnId: turn.id, owner: ctx.owner.id, ttlMs: ctx.config.leaseTtlMs });
    if (got.status === 'acquired') {
      await reportInterrupted(ctx, got.interrupted);
      return got;
    }
    if (got.status === 'gone') {
      return { status: 'gone', error: got.turn?.error ?? { code: ErrorCode.NOT_FOUND, message: 'the turn is gone: its key was deleted' } };
    }
    // Behind a turn of this process, the wake-up at its end is enough: asking the store again
    // (a write transaction) on a timer would only cost. Another process's turn is woken by its
    // events reaching this one (a shared journal), and polled with backoff as a safety net.
    const holder = (await ctx.store.getSession(sessionId))?.lease?.owner;
    await ctx.wakeups.wait(sessionId, holder === ctx.owner.id ? OWN_TURN_RECHECK_MS : delay, signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}

/** Turns a lease takeover ended (their process stopped renewing) are announced as failed. */
export async function reportInterrupted(ctx: Pick<BrokerContext, 'emitter'>, turns: TurnRecord[]): Promise<void> {
  for (const stale of turns) await ctx.emitter.endedElsewhere(stale);
}
