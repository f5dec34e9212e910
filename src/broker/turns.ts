import { randomUUID } from 'node:crypto';
import type { AgentResult } from '../agents/agent.js';
import type { TetherEvent } from '../domain/events.js';
import type { Lease, SessionRecord, TurnError, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, isTetherError } from '../errors.js';
import { LeaseKeeper, reportInterrupted, waitForLease, type LeaseDeps } from './leases.js';
import { withRecap } from '../domain/recap.js';
import { recapFromJournal, recapOfPreviousGeneration } from './recap.js';
import type { LentRunner, RunnerPool } from './runners/pool.js';
import type { TurnHandleImpl } from './turn-handle.js';

/** What running a turn needs from the broker. */
export interface TurnDeps extends LeaseDeps {
  pool: RunnerPool;
  idleTimeoutMs: number;
  /** A turn running longer is interrupted; 0 = no limit. */
  maxTurnDurationMs: number;
  /** Environment the agent inherits (session env is laid over it). */
  env: NodeJS.ProcessEnv;
  /** The session's conversation cut back before its last exchange, if that carried `prompt` (see AgentBackend.rewind). */
  rewind(session: SessionRecord, prompt: string): Promise<string | null>;
  emit(event: TetherEvent, handle?: TurnHandleImpl): void;
}

/**
 * Runs one journaled turn to its end: takes the session's lease (leases.ts), borrows an agent
 * process from the pool, streams the agent's events, and records the outcome and usage with
 * `store.finishTurn`, fenced by the lease. Never throws: every ending reaches the handle and the
 * journal.
 */
export async function runTurn(
  deps: TurnDeps,
  handle: TurnHandleImpl,
  turn: TurnRecord,
  session: SessionRecord,
  /** The lease, when the store granted it with the enqueue (a quiet session). */
  granted?: { lease: Lease; interrupted: TurnRecord[] },
): Promise<void> {
  const signal = handle.controller.signal;
  const base = { tenant: turn.tenant, key: turn.key, turnId: turn.id };
  const fail = (error: TurnError, sessionId?: string): void => {
    deps.emit({ type: 'turn.failed', ...base, ...(sessionId ? { sessionId } : {}), error, at: new Date().toISOString() }, handle);
    handle.fail(new TetherError(error.code as ErrorCode, error.message));
  };

  let acquired: { lease: Lease; session: SessionRecord; turn: TurnRecord };
  try {
    if (granted) reportInterrupted(deps, granted.interrupted);
    const got = granted ? { status: 'acquired' as const, lease: granted.lease, session, turn } : await waitForLease(deps, turn, session.id, signal);
    if (got.status === 'gone') {
      fail(got.error, session.id);
      return;
    }
    acquired = got;
  } catch (err) {
    const error = toTurnError(err);
    await deps.store.abandonTurn(turn.id, error).catch(() => false);
    fail(error, session.id);
    return;
  }

  const current = acquired.session;
  const runAbort = new AbortController();
  const stopRun = (): void => runAbort.abort();
  signal.addEventListener('abort', stopRun, { once: true });
  const keeper = new LeaseKeeper(deps, acquired.lease, turn, stopRun, () => handle.interrupt());
  const epoch = acquired.lease.epoch;

  // A regenerated reply runs on the conversation as it was before the reply it replaces. Done
  // under the lease, so a turn adopted after a crash does it again: the cut is idempotent.
  let rewindError: TurnError | null = null;
  if (turn.regenerates !== null && current.agentSessionId !== null) {
    try {
      const agentSessionId = await deps.rewind(current, turn.prompt);
      if (agentSessionId !== current.agentSessionId) {
        await deps.store.setAgentSession(keeper.lease, agentSessionId);
        current.agentSessionId = agentSessionId;
      }
    } catch (err) {
      rewindError = toTurnError(err);
      deps.logger.warn({ err, turnId: turn.id }, 'could not cut the conversation back for a regenerated reply');
    }
  }

  // A generation that replaced one whose context filled up opens with the last exchanges.
  const prompt = withRecap(await recapOfPreviousGeneration(deps.store, current, turn).catch(() => ''), turn.prompt);

  let lent: LentRunner | null = null;
  if (rewindError === null) {
    try {
      lent = await deps.pool.acquire(
        current,
        epoch,
        {
          config: current.config,
          resume: current.agentSessionId,
          newConversationId: randomUUID(),
          env: { ...deps.env, ...current.config.env },
          priorCostUsd: current.usage.costUsd,
          recap: () => recapFromJournal(deps.store, current, turn),
        },
        runAbort.signal,
      );
    } catch (err) {
      deps.logger.warn({ err, turnId: turn.id }, 'no agent process for the turn');
    }
  }

  deps.emit(
    {
      type: 'turn.started',
      ...base,
      sessionId: current.id,
      agentSessionId: current.agentSessionId,
      resumed: current.agentSessionId !== null,
      runner: lent?.source ?? 'cold',
      at: new Date().toISOString(),
    },
    handle,
  );

  const startedAt = performance.now();
  let timedOut = false;
  const deadline =
    deps.maxTurnDurationMs > 0
      ? setTimeout(() => {
          timedOut = true;
          runAbort.abort();
        }, deps.maxTurnDurationMs)
      : undefined;
  let result: AgentResult | null = null;
  let runError: TurnError | null = null;
  const texts: string[] = [];
  try {
    if (rewindError) throw new TetherError(rewindError.code as ErrorCode, rewindError.message);
    if (!lent) throw new TetherError(runAbort.signal.aborted ? ErrorCode.INTERRUPTED : ErrorCode.AGENT_UNAVAILABLE, runAbort.signal.aborted ? 'the turn was interrupted while waiting for an agent process' : 'Tether is shutting down');
    for await (const event of lent.runner.run(prompt, runAbort.signal)) {
      const at = new Date().toISOString();
      const turnBase = { ...base, sessionId: current.id, at };
      switch (event.type) {
        case 'init':
          if (event.agentSessionId !== current.agentSessionId) {
            await deps.store.setAgentSession(keeper.lease, event.agentSessionId);
            current.agentSessionId = event.agentSessionId;
          }
          break;
        case 'compacted':
          deps.emit(
            {
              type: 'session.compacted',
              tenant: turn.tenant,
              key: turn.key,
              sessionId: current.id,
              generation: current.generation,
              reason: event.trigger,
              turnId: turn.id,
              preTokens: event.preTokens,
              postTokens: event.postTokens,
              at,
            },
            handle,
          );
          break;
        case 'recovered':
          deps.logger.warn({ key: turn.key, lost: event.previousAgentSessionId, reason: event.reason }, 'conversation lost; continuing with a recap');
          deps.emit(
            {
              type: 'session.recovered',
              tenant: turn.tenant,
              key: turn.key,
              sessionId: current.id,
              generation: current.generation,
              reason: event.reason,
              turnId: turn.id,
              previousAgentSessionId: event.previousAgentSessionId,
              agentSessionId: event.agentSessionId,
              at,
            },
            handle,
          );
          break;
        case 'text.delta':
          deps.emit({ type: 'text.delta', ...turnBase, text: event.text }, handle);
          break;
        case 'message':
          texts.push(event.text);
          deps.emit({ type: 'message', ...turnBase, role: 'assistant', text: event.text }, handle);
          break;
        case 'tool.use':
          deps.emit({ type: 'tool.use', ...turnBase, toolUseId: event.toolUseId, name: event.name, input: event.input }, handle);
          break;
        case 'tool.result':
          deps.emit({ type: 'tool.result', ...turnBase, toolUseId: event.toolUseId, content: event.content, isError: event.isError }, handle);
          break;
        case 'result':
          result = event;
          break;
      }
    }
  } catch (err) {
    if (isTetherError(err, ErrorCode.LEASE_LOST)) keeper.markLost();
    else runError = toTurnError(err);
    deps.logger.warn({ err, turnId: turn.id }, 'agent run ended with an error');
    result = null;
  } finally {
    keeper.stop();
    clearTimeout(deadline);
    signal.removeEventListener('abort', stopRun);
  }
  // A healthy runner stays warm for the session's next turn; anything else is ended. Released
  // after the outcome is recorded, which tells whether more turns of the session wait for it.
  const release = (queued: number, recorded = true): void =>
    lent?.release({ ok: recorded && result?.ok === true && !keeper.lost, epoch, agentSessionId: result?.agentSessionId ?? current.agentSessionId, queued });

  const durationMs = Math.round(performance.now() - startedAt);
  const error: TurnError | null = timedOut
    ? { code: ErrorCode.INTERRUPTED, message: `the turn ran longer than maxTurnDuration (${deps.maxTurnDurationMs / 1000} s) and was stopped` }
    : keeper.lost
    ? { code: ErrorCode.LEASE_LOST, message: 'the turn lost its lease (the store was unreachable too long) and was stopped' }
    : result === null
      ? (runError ?? { code: ErrorCode.AGENT_FAILED, message: 'the agent ended without a result' })
      : result.error;
  const status = error === null ? 'succeeded' : error.code === ErrorCode.INTERRUPTED ? 'interrupted' : 'failed';
  if (result?.retryAt !== undefined && deps.usageGate.close(result.retryAt, error?.message ?? 'usage limit')) {
    deps.logger.warn({ until: new Date(result.retryAt).toISOString() }, 'usage limit reached; turns wait until it resets');
    // The other nodes on the store use the same account: they read it with their heartbeat.
    deps.store.setUsageLimit(current.backend, result.retryAt, error?.message ?? 'usage limit').catch((err: unknown) => {
      deps.logger.warn({ err }, 'could not record the usage limit for the other nodes');
    });
  }
  const text = result?.text || texts.join('\n\n');

  try {
    const finished = await deps.store.finishTurn({
      lease: keeper.lease,
      turnId: turn.id,
      status,
      text: status === 'succeeded' ? text : null,
      error,
      usage: result?.usage ?? null,
      context: result && result.context.window > 0 && result.context.tokens > 0 ? result.context : null,
      agentSessionId: result?.agentSessionId ?? current.agentSessionId,
      idleTimeoutMs: deps.idleTimeoutMs,
    });
    release(finished.session.queued);
    deps.wakeups.wake(current.id);
    if (error) {
      fail(error, current.id);
      return;
    }
    const payload = {
      type: 'turn.completed' as const,
      ...base,
      sessionId: current.id,
      agentSessionId: finished.session.agentSessionId,
      text,
      usage: finished.turn.usage ?? result!.usage,
      context: finished.session.context,
      durationMs: result?.durationMs ?? durationMs,
      at: new Date().toISOString(),
    };
    deps.emit(payload, handle);
    handle.succeed(payload);
  } catch (err) {
    // The outcome could not be written (disk full, read-only, locked). The caller gets the
    // store's error; the agent process ends, since the journal does not hold what it did; and the
    // turn is journaled interrupted once the store takes writes again, which frees the session
    // then rather than when the unrenewed lease expires.
    release(0, false);
    if (!isTetherError(err, ErrorCode.LEASE_LOST)) {
      recordUnwritten(deps, keeper.lease, turn.id, current.id, err, result?.usage ?? null, result?.agentSessionId ?? current.agentSessionId);
    }
    deps.wakeups.wake(current.id);
    fail(toTurnError(err), current.id);
  }
}

const RECORD_RETRY_MS = 250;

/**
 * Retries journaling a turn whose outcome the store refused, as `interrupted`, until it is
 * written or the lease is someone else's. Past twice the lease's TTL it stops: by then the lease
 * has expired and recovery (the janitor, or the next turn's lease) ends the turn the same way.
 */
function recordUnwritten(deps: TurnDeps, lease: Lease, turnId: string, sessionId: string, cause: unknown, usage: AgentResult['usage'] | null, agentSessionId: string | null): void {
  const error: TurnError = {
    code: ErrorCode.INTERRUPTED,
    message: `the store could not record this turn's outcome (${cause instanceof Error ? cause.message : String(cause)}); journaled interrupted once it could`,
  };
  const giveUpAt = Date.now() + 2 * deps.leaseTtlMs;
  const attempt = (): void => {
    deps.store
      .finishTurn({ lease, turnId, status: 'interrupted', text: null, error, usage, context: null, agentSessionId, idleTimeoutMs: deps.idleTimeoutMs })
      .then(
        () => deps.wakeups.wake(sessionId),
        (err: unknown) => {
          if (!isTetherError(err, ErrorCode.LEASE_LOST) && Date.now() < giveUpAt) setTimeout(attempt, RECORD_RETRY_MS).unref();
        },
      );
  };
  setTimeout(attempt, RECORD_RETRY_MS).unref();
}

function toTurnError(err: unknown): TurnError {
  if (err instanceof TetherError) return { code: err.code, message: err.message };
  return { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}
