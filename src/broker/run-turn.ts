import type { AgentResult } from '../agents/agent.js';
import { withRecap } from '../domain/recap.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { CloseReason, Lease, SessionRecord, TurnError, TurnRecord, Usage } from '../domain/types.js';
import { addUsage } from '../domain/usage.js';
import { ErrorCode, TetherError, isTetherError } from '../errors.js';
import { tetherEventOf } from './agent-events.js';
import { backendOf, type BrokerContext } from './context.js';
import { reportInterrupted, waitForLease } from './lease-wait.js';
import type { TurnAsks } from './approvals.js';
import type { HeldLease } from './leases.js';
import { recordOutcome, toTurnError } from './outcome.js';
import { recapOfPreviousGeneration } from './recap.js';
import { runnerSpecOf } from './runner-spec.js';
import type { LentRunner } from './runners/pool.js';
import type { TurnHandleImpl } from './turn-handle.js';

/** What running a turn needs of the broker. */
export type TurnContext = Pick<
  BrokerContext,
  'store' | 'clock' | 'log' | 'config' | 'owner' | 'wakeups' | 'usageGates' | 'emitter' | 'pool' | 'leases' | 'backends' | 'agentEnv' | 'agentTools' | 'approvals'
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
    const got = granted ? { status: 'acquired' as const, lease: granted.lease, session } : await waitForLease(ctx, turn, session, signal);
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

  const asks: TurnAsks = { asked: false, parked: null, recalls: [] };
  // A turn taken up again after its process stopped while it waited on a person goes on from the
  // decision (waited for here, with no agent process) instead of sending its prompt again.
  const resumed = startError === null && turn.startedAt !== null && current.config.approvals === 'ask' ? await goOn(ctx, turn, runAbort.signal, asks) : null;
  // A generation that replaced one whose context filled up opens with the last exchanges.
  let prompt = resumed?.prompt ?? withRecap(await recapOfPreviousGeneration(ctx.store, current, turn).catch(() => ''), turn.prompt);
  const firstError = startError ?? resumed?.error ?? null;

  // Built at each acquire: a turn that parked goes on in the conversation as it is by then.
  const acquire = (): Promise<LentRunner> => ctx.pool.acquire(current, epoch, runnerSpecOf(ctx, current, turn), runAbort.signal);
  let lent: LentRunner | null = null;
  if (firstError === null) {
    try {
      lent = await acquire();
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
  const deadline = new TurnDeadline(ctx.clock, ctx.config.maxTurnDurationSec * 1000, () => runAbort.abort());
  let result: AgentResult | null = null;
  let runError: TurnError | null = null;
  const texts: string[] = [];
  try {
    if (firstError) throw new TetherError(firstError.code as ErrorCode, firstError.message);
    if (!lent) throw noAgent(runAbort.signal);
    const hooks = current.config.approvals === 'ask' ? { ask: ctx.approvals.askerFor(turn, current, held, runAbort.signal, asks) } : {};
    /** What the parts of a turn that parked cost before its last one. */
    let spent: Usage | null = null;
    for (;;) {
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
      if (asks.parked === null || runAbort.signal.aborted) break;
      // Parked: the agent process is given back (the lease is kept, and renewed) while a person
      // decides; a new process resumes the conversation with the decision.
      asks.parked = null;
      if (result) spent = spent ? addUsage(spent, result.usage) : result.usage;
      result = null;
      lent.release({ ok: false, epoch, agentSessionId: current.agentSessionId });
      lent = null;
      deadline.pause();
      prompt = (await ctx.approvals.goOn(turn, runAbort.signal, asks)) ?? ctx.backends[current.backend]?.continuePrompt ?? 'continue';
      deadline.resume();
      lent = await acquire().catch((err: unknown) => {
        throw runAbort.signal.aborted ? noAgent(runAbort.signal) : err;
      });
    }
    if (result && spent) result = { ...result, usage: addUsage(spent, result.usage) };
  } catch (err) {
    if (isTetherError(err, ErrorCode.LEASE_LOST)) held.markLost();
    else runError = toTurnError(err);
    ctx.log.warn({ err, turnId: turn.id }, 'agent run ended with an error');
    result = null;
  } finally {
    // What the turn still waited on when it stopped is withdrawn, and said so before its end.
    if (asks.asked) await ctx.approvals.withdraw(turn).catch((err: unknown) => ctx.log.warn({ err, turnId: turn.id }, 'could not withdraw the approvals of an ended turn'));
    held.release();
    deadline.cancel();
    signal.removeEventListener('abort', stopRun);
  }
  const timedOut = deadline.passed;

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

/** Why a turn has no agent process: it was interrupted while waiting for one, or Tether is shutting down. */
function noAgent(signal: AbortSignal): TetherError {
  return signal.aborted
    ? new TetherError(ErrorCode.INTERRUPTED, 'the turn was interrupted while waiting for an agent process')
    : new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
}

/** A resumed turn's first prompt (what was decided while it waited), or the error that ends it. */
async function goOn(ctx: TurnContext, turn: TurnRecord, signal: AbortSignal, asks: TurnAsks): Promise<{ prompt: string | null; error: TurnError | null }> {
  try {
    return { prompt: await ctx.approvals.goOn(turn, signal, asks), error: null };
  } catch (err) {
    return { prompt: null, error: toTurnError(err) };
  }
}

/**
 * `maxTurnDurationSec` for a turn: the time it waits on a person with no agent process (parked)
 * does not count, since nothing runs then.
 */
class TurnDeadline {
  readonly #clock: Clock;
  readonly #onPassed: () => void;
  #left: number;
  #since: number;
  #timer: Timer | null = null;
  passed = false;

  constructor(clock: Clock, ms: number, onPassed: () => void) {
    this.#clock = clock;
    this.#onPassed = onPassed;
    this.#left = ms;
    this.#since = clock.now();
    if (ms > 0) this.resume();
  }

  pause(): void {
    if (!this.#timer) return;
    this.cancel();
    this.#left -= this.#clock.now() - this.#since;
  }

  resume(): void {
    if (this.#timer || this.#left <= 0 || this.passed) return;
    this.#since = this.#clock.now();
    this.#timer = this.#clock.timeout(Math.max(0, this.#left), () => {
      this.passed = true;
      this.#onPassed();
    });
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }
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
