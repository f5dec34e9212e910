import type { AgentResult } from '../agents/agent.js';
import { every } from '../domain/clock.js';
import type { CloseReason, Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, isTetherError } from '../errors.js';
import type { HeldLease } from './leases.js';
import type { TurnContext } from './run-turn.js';
import type { LentRunner } from './runners/pool.js';
import type { TurnHandleImpl } from './turn-handle.js';

/** How a turn's run ended, for `recordOutcome`. */
export interface RunEnding {
  handle: TurnHandleImpl;
  turn: TurnRecord;
  session: SessionRecord;
  held: HeldLease;
  lent: LentRunner | null;
  epoch: number;
  /** The agent's result; null when the run ended without one. */
  result: AgentResult | null;
  /** Why the run ended without a result, when it threw. */
  runError: TurnError | null;
  timedOut: boolean;
  text: string;
  durationMs: number;
  fail(error: TurnError, sessionId: string): void;
  /** Closes the session for this reason with the outcome, when nothing waits behind the turn. */
  closeIfQuiet?: CloseReason;
}

/** The error a turn ends with, or null when it succeeded: a deadline, a lost lease, or the agent's. */
function endingError(ctx: Pick<TurnContext, 'config'>, e: RunEnding): TurnError | null {
  if (e.timedOut) {
    return { code: ErrorCode.INTERRUPTED, message: `the turn ran longer than maxTurnDuration (${ctx.config.maxTurnDurationSec} s) and was stopped` };
  }
  if (e.held.lost) return { code: ErrorCode.LEASE_LOST, message: 'the turn lost its lease (the store was unreachable too long) and was stopped' };
  if (e.result === null) return e.runError ?? { code: ErrorCode.AGENT_FAILED, message: 'the agent ended without a result' };
  return e.result.error;
}

/**
 * Journals a run's outcome (fenced by its lease), releases its runner, wakes the turns waiting
 * behind it, and settles its handle. A usage limit the agent hit closes the gate here and for
 * the other nodes.
 */
export async function recordOutcome(ctx: TurnContext, e: RunEnding): Promise<void> {
  const { turn, session, result, held } = e;
  const error = endingError(ctx, e);
  const status = error === null ? 'succeeded' : error.code === ErrorCode.INTERRUPTED ? 'interrupted' : 'failed';
  if (result?.retryAt !== undefined && ctx.usageGates.of(session.backend).close(result.retryAt, error?.message ?? 'usage limit')) {
    ctx.log.warn({ backend: session.backend, until: new Date(result.retryAt).toISOString() }, 'usage limit reached; turns wait until it resets');
    // The other nodes on the store use the same account: they read it with their heartbeat.
    ctx.store.setUsageLimit(session.backend, result.retryAt, error?.message ?? 'usage limit').catch((err: unknown) => {
      ctx.log.warn({ err }, 'could not record the usage limit for the other nodes');
    });
  }
  // A healthy runner stays warm for the session's next turn; anything else is ended. Released
  // after the outcome is recorded, which tells whether more turns of the session wait for it.
  const release = (queued: number, recorded = true): void =>
    e.lent?.release({ ok: recorded && result?.ok === true && !held.lost, epoch: e.epoch, agentSessionId: result?.agentSessionId ?? session.agentSessionId, queued });
  const agentSessionId = result?.agentSessionId ?? session.agentSessionId;

  try {
    const finished = await ctx.store.finishTurn({
      lease: held.lease,
      turnId: turn.id,
      status,
      text: status === 'succeeded' ? e.text : null,
      error,
      usage: result?.usage ?? null,
      context: result && result.context.window > 0 && result.context.tokens > 0 ? result.context : null,
      agentSessionId,
      idleTimeoutMs: ctx.config.idleTimeoutSec * 1000,
      ...(e.closeIfQuiet ? { closeIfQuiet: e.closeIfQuiet } : {}),
    });
    if (finished.session.closeReason !== null) ctx.emitter.closed(finished.session);
    release(finished.session.queued);
    ctx.wakeups.wake(session.id);
    if (error) return e.fail(error, session.id);
    const payload = {
      type: 'turn.completed' as const,
      tenant: turn.tenant,
      key: turn.key,
      turnId: turn.id,
      sessionId: session.id,
      agentSessionId: finished.session.agentSessionId,
      text: e.text,
      usage: finished.turn.usage ?? result!.usage,
      context: finished.session.context,
      durationMs: result?.durationMs ?? e.durationMs,
      at: ctx.emitter.now(),
    };
    ctx.emitter.emit(payload);
    e.handle.succeed(payload);
  } catch (err) {
    // The outcome could not be written (disk full, read-only, locked). The caller gets the
    // store's error; the agent process ends, since the journal does not hold what it did; and the
    // turn is journaled interrupted once the store takes writes again, which frees the session
    // then rather than when the unrenewed lease expires.
    release(0, false);
    if (!isTetherError(err, ErrorCode.LEASE_LOST)) recordUnwritten(ctx, held.lease, turn.id, session.id, err, result?.usage ?? null, agentSessionId);
    ctx.wakeups.wake(session.id);
    e.fail(toTurnError(err), session.id);
  }
}

const RECORD_RETRY_MS = 250;

/**
 * Retries journaling a turn whose outcome the store refused, as `interrupted`, until it is
 * written or the lease is someone else's. Past twice the lease's TTL it stops: by then the lease
 * has expired and recovery (the janitor, or the next turn's lease) ends the turn the same way.
 */
function recordUnwritten(
  ctx: TurnContext,
  lease: Lease,
  turnId: string,
  sessionId: string,
  cause: unknown,
  usage: AgentResult['usage'] | null,
  agentSessionId: string | null,
): void {
  const error: TurnError = {
    code: ErrorCode.INTERRUPTED,
    message: `the store could not record this turn's outcome (${cause instanceof Error ? cause.message : String(cause)}); journaled interrupted once it could`,
  };
  const giveUpAt = ctx.clock.now() + 2 * ctx.config.leaseTtlMs;
  let writing = false;
  const retry = every(
    ctx.clock,
    RECORD_RETRY_MS,
    () => {
      if (writing) return;
      if (ctx.clock.now() >= giveUpAt) return retry.cancel();
      writing = true;
      ctx.store
        .finishTurn({ lease, turnId, status: 'interrupted', text: null, error, usage, context: null, agentSessionId, idleTimeoutMs: ctx.config.idleTimeoutSec * 1000 })
        .then(
          () => {
            retry.cancel();
            ctx.wakeups.wake(sessionId);
          },
          (err: unknown) => {
            if (isTetherError(err, ErrorCode.LEASE_LOST)) retry.cancel();
          },
        )
        .finally(() => (writing = false));
    },
    { unref: true },
  );
}

export function toTurnError(err: unknown): TurnError {
  if (err instanceof TetherError) return { code: err.code, message: err.message };
  return { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}
