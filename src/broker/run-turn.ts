import { randomUUID } from 'node:crypto';
import type { AgentResult } from '../agents/agent.js';
import { withRecap } from '../domain/recap.js';
import type { CloseReason, Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, isTetherError } from '../errors.js';
import { tetherEventOf } from './agent-events.js';
import { backendOf, type BrokerContext } from './context.js';
import { reportInterrupted, waitForLease } from './lease-wait.js';
import type { TurnAsks } from './approvals.js';
import type { HeldLease } from './leases.js';
import { recordOutcome, toTurnError } from './outcome.js';
import { recapFromJournal, recapOfPreviousGeneration } from './recap.js';
import type { LentRunner } from './runners/pool.js';
import type { TurnHandleImpl } from './turn-handle.js';

/** What running a turn needs of the broker. */
export type TurnContext = Pick<
  BrokerContext,
  'store' | 'clock' | 'log' | 'config' | 'owner' | 'wakeups' | 'usageGate' | 'emitter' | 'pool' | 'leases' | 'backends' | 'agentEnv' | 'approvals'
>;

/** The lease, when the store granted it with the enqueue (a quiet session). */
export interface Granted {
  lease: Lease;
  interrupted: TurnRecord[];
}

/**
 * Runs one journaled turn to its end: takes the session's lease (lease-wait.ts), borrows an
 * agent process from the pool, streams the agent's events, and records the outcome and usage
 * with `store.finishTurn`, fenced by the lease (outcome.ts). Never throws: every ending reaches
 * the handle and the journal.
 */
export async function runTurn(
  ctx: TurnContext,
  handle: TurnHandleImpl,
  turn: TurnRecord,
  session: SessionRecord,
  granted?: Granted,
  /** Closes the session for this reason with the outcome, when nothing waits behind the turn. */
  closeIfQuiet?: CloseReason,
): Promise<void> {
  const signal = handle.controller.signal;
  const fail = (error: TurnError, sessionId: string): void => {
    ctx.emitter.emit({ type: 'turn.failed', tenant: turn.tenant, key: turn.key, turnId: turn.id, sessionId, error, at: ctx.emitter.now() });
    handle.fail(new TetherError(error.code as ErrorCode, error.message));
  };

  let acquired: { lease: Lease; session: SessionRecord };
  try {
    if (granted) await reportInterrupted(ctx, granted.interrupted);
    const got = granted ? { status: 'acquired' as const, lease: granted.lease, session } : await waitForLease(ctx, turn, session.id, signal);
    if (got.status === 'gone') return fail(got.error, session.id);
    acquired = got;
  } catch (err) {
    const error = toTurnError(err);
    await ctx.store.abandonTurn(turn.id, error).catch(() => false);
    return fail(error, session.id);
  }

  const current = acquired.session;
  const epoch = acquired.lease.epoch;
  const runAbort = new AbortController();
  const stopRun = (): void => runAbort.abort();
  signal.addEventListener('abort', stopRun, { once: true });
  const held = ctx.leases.hold(acquired.lease, turn, { onLost: stopRun, onInterruptRequested: () => handle.interrupt() });
  // No agent starts on a lease that may have gone elsewhere while its grant committed.
  const confirmed = await ctx.leases.confirm(held);

  // A regenerated reply runs on the conversation as it was before the reply it replaces. Done
  // under the lease, so a turn adopted after a crash does it again: the cut is idempotent.
  // Either failing (or the lease gone already) is the turn's error, and no agent starts.
  const startError = !confirmed
    ? { code: ErrorCode.LEASE_LOST, message: 'the lease was gone before the turn could start (the store was too slow to grant it)' }
    : turn.regenerates !== null && current.agentSessionId !== null
      ? await rewind(ctx, held, current, turn)
      : null;

  // A generation that replaced one whose context filled up opens with the last exchanges.
  const prompt = withRecap(await recapOfPreviousGeneration(ctx.store, current, turn).catch(() => ''), turn.prompt);

  let lent: LentRunner | null = null;
  if (startError === null) {
    try {
      lent = await ctx.pool.acquire(
        current,
        epoch,
        {
          config: current.config,
          resume: current.agentSessionId,
          newConversationId: randomUUID(),
          env: { ...ctx.agentEnv, ...current.config.env },
          priorCostUsd: current.usage.costUsd,
          recap: () => recapFromJournal(ctx.store, current, turn),
        },
        runAbort.signal,
      );
    } catch (err) {
      ctx.log.warn({ err, turnId: turn.id }, 'no agent process for the turn');
    }
  }

  ctx.emitter.emit({
    type: 'turn.started',
    tenant: turn.tenant,
    key: turn.key,
    turnId: turn.id,
    sessionId: current.id,
    agentSessionId: current.agentSessionId,
    resumed: current.agentSessionId !== null,
    runner: lent?.source ?? 'cold',
    at: ctx.emitter.now(),
  });

  const startedAt = ctx.clock.now();
  let timedOut = false;
  const maxMs = ctx.config.maxTurnDurationSec * 1000;
  const deadline = maxMs > 0 ? ctx.clock.timeout(maxMs, () => ((timedOut = true), runAbort.abort())) : null;
  let result: AgentResult | null = null;
  let runError: TurnError | null = null;
  const texts: string[] = [];
  const asks: TurnAsks = { asked: false };
  try {
    if (startError) throw new TetherError(startError.code as ErrorCode, startError.message);
    if (!lent) {
      const interrupted = runAbort.signal.aborted;
      throw new TetherError(
        interrupted ? ErrorCode.INTERRUPTED : ErrorCode.AGENT_UNAVAILABLE,
        interrupted ? 'the turn was interrupted while waiting for an agent process' : 'Tether is shutting down',
      );
    }
    const hooks = current.config.approvals === 'ask' ? { ask: ctx.approvals.askerFor(turn, current, held, runAbort.signal, asks) } : {};
    for await (const event of lent.runner.run(prompt, runAbort.signal, hooks)) {
      if (event.type === 'init') {
        if (event.agentSessionId !== current.agentSessionId) {
          await ctx.store.setAgentSession(held.lease, event.agentSessionId);
          current.agentSessionId = event.agentSessionId;
        }
      } else if (event.type === 'result') {
        result = event;
      } else {
        if (event.type === 'message') texts.push(event.text);
        if (event.type === 'recovered') {
          ctx.log.warn({ key: turn.key, lost: event.previousAgentSessionId, reason: event.reason }, 'conversation lost; continuing with a recap');
        }
        const mapped = tetherEventOf(event, turn, current, ctx.emitter.now());
        if (mapped) ctx.emitter.emit(mapped);
      }
    }
  } catch (err) {
    if (isTetherError(err, ErrorCode.LEASE_LOST)) held.markLost();
    else runError = toTurnError(err);
    ctx.log.warn({ err, turnId: turn.id }, 'agent run ended with an error');
    result = null;
  } finally {
    // What the turn still waited on when it stopped is withdrawn, and said so before its end.
    if (asks.asked) await ctx.approvals.withdraw(turn).catch((err: unknown) => ctx.log.warn({ err, turnId: turn.id }, 'could not withdraw the approvals of an ended turn'));
    held.release();
    deadline?.cancel();
    signal.removeEventListener('abort', stopRun);
  }

  await recordOutcome(ctx, {
    handle,
    turn,
    session: current,
    held,
    lent,
    epoch,
    result,
    runError,
    timedOut,
    text: result?.text || texts.join('\n\n'),
    durationMs: Math.round(ctx.clock.now() - startedAt),
    fail,
    ...(closeIfQuiet ? { closeIfQuiet } : {}),
  });
}

/** Cuts the conversation back before the reply `turn` regenerates; the error that stops the turn, or null. */
async function rewind(ctx: TurnContext, held: HeldLease, session: SessionRecord, turn: TurnRecord): Promise<TurnError | null> {
  try {
    const backend = backendOf(ctx, session.backend);
    if (!backend.rewind) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${session.backend} backend cannot regenerate replies`);
    const agentSessionId = await backend.rewind(
      { agentSessionId: session.agentSessionId!, cwd: session.config.cwd, env: { ...ctx.agentEnv, ...session.config.env } },
      turn.prompt,
    );
    if (agentSessionId !== session.agentSessionId) {
      await ctx.store.setAgentSession(held.lease, agentSessionId);
      session.agentSessionId = agentSessionId;
    }
    return null;
  } catch (err) {
    ctx.log.warn({ err, turnId: turn.id }, 'could not cut the conversation back for a regenerated reply');
    return toTurnError(err);
  }
}
