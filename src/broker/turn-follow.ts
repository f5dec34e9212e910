import { sleep } from '../domain/clock.js';
import { isTerminalTurnEvent, failedTurnEvent, type TurnCompletedEvent, type TurnFailedEvent } from '../domain/events.js';
import { EMPTY_CONTEXT, ZERO_USAGE, type TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { SequencedEvent } from './api.js';
import type { BrokerContext } from './context.js';

type FollowContext = Pick<BrokerContext, 'store' | 'clock' | 'turnEvents'>;

/** How often the turn record of a turn nothing else reports on is read, at most and at first. */
const FIRST_CHECK_MS = 100;
const MAX_CHECK_MS = 2_000;

/**
 * A turn's events after `afterSeq`, then live ones until it ends (see Tether.turnEvents): from
 * TurnEvents while it knows the turn; otherwise, or once they are pruned, its outcome rebuilt
 * from the journal's turn record (seq 0). NOT_FOUND for an unknown turn or another tenant's.
 */
export async function* followTurn(ctx: FollowContext, tenant: string, turnId: string, afterSeq: number, signal?: AbortSignal): AsyncGenerator<SequencedEvent> {
  const turn = await ctx.store.getTurn(turnId);
  if (!turn || turn.tenant !== tenant) throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${turnId}`);
  const stream = ctx.turnEvents.follow(turnId, afterSeq, signal);
  if (stream) {
    for await (const item of stream) {
      yield item;
      if (isTerminalTurnEvent(item.event)) return;
    }
    if (signal?.aborted) return;
    // The stream ended before `afterSeq`'s reader saw a new terminal: it had it already.
    const last = await ctx.turnEvents.lastSeq(turnId);
    if (last > 0 && afterSeq >= last) return;
  }
  const ended = await endOf(ctx, turnId, signal);
  if (ended) yield { seq: 0, event: await outcomeEvent(ctx, ended) };
}

/**
 * The turn once it has ended. Only a turn run by a process that shares no events with this one
 * gets here while it runs (sharing is off): nothing announces its end, so its record is read,
 * backing off.
 */
async function endOf(ctx: FollowContext, turnId: string, signal?: AbortSignal): Promise<TurnRecord | null> {
  for (let wait = FIRST_CHECK_MS; ; wait = Math.min(wait * 2, MAX_CHECK_MS)) {
    const turn = await ctx.store.getTurn(turnId);
    if (!turn) throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${turnId}`);
    if (turn.status !== 'queued' && turn.status !== 'running') return turn;
    if (signal?.aborted) return null;
    await sleep(ctx.clock, wait, signal);
  }
}

/** The terminal event an ended turn stands for, rebuilt from the journal. */
async function outcomeEvent(ctx: FollowContext, turn: TurnRecord): Promise<TurnCompletedEvent | TurnFailedEvent> {
  const at = new Date(turn.endedAt ?? ctx.clock.now()).toISOString();
  if (turn.status !== 'succeeded') return failedTurnEvent(turn, at);
  const session = await ctx.store.getSession(turn.sessionId);
  return {
    type: 'turn.completed',
    tenant: turn.tenant,
    key: turn.key,
    turnId: turn.id,
    sessionId: turn.sessionId,
    at,
    agentSessionId: session?.agentSessionId ?? null,
    text: turn.text ?? '',
    usage: turn.usage ?? { ...ZERO_USAGE },
    context: turn.context ?? { ...EMPTY_CONTEXT },
    durationMs: turn.startedAt !== null && turn.endedAt !== null ? turn.endedAt - turn.startedAt : 0,
  };
}
