// Running totals per tenant and how money is stored: what `stats()` reads, and what each write adds.
import { addUsage } from '../../domain/usage.js';
import { SESSION_STATUSES, TURN_STATUSES, type CloseReason, type SessionStatus, type TurnStatus, type Usage } from '../../domain/types.js';
import type { ImportedTurn, StoreStats } from '../store.js';

/** Running totals per tenant, so `stats()` and the cap check never count sessions. */
export const COUNTER_COLUMNS = [
  'live',
  'created',
  'expired',
  'evicted',
  'reset',
  'turns_queued',
  'turns_running',
  'turns_succeeded',
  'turns_failed',
  'turns_interrupted',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cost_micros',
  // Turn time: the sum of (ended - started) of the turns finishTurn ended, and their number.
  'duration_ms',
  'turns_timed',
] as const;
export type CounterColumn = (typeof COUNTER_COLUMNS)[number];
export type CounterDelta = Partial<Record<CounterColumn, number>>;

export const turnCounter = (status: TurnStatus): CounterColumn => `turns_${status}`;

/** Close reasons that have a running total in `stats()`. */
export const CLOSE_COUNTERS: Partial<Record<CloseReason, CounterColumn>> = {
  expired: 'expired',
  evicted: 'evicted',
  reset: 'reset',
};

/** What closing a live session for `reason` writes: its status, and the counters it moves. */
export function closing(reason: CloseReason): { status: SessionStatus; delta: CounterDelta } {
  const delta: CounterDelta = { live: -1 };
  const counter = CLOSE_COUNTERS[reason];
  if (counter) delta[counter] = 1;
  return { status: reason === 'expired' ? 'expired' : 'closed', delta };
}

/** The counters a turn ended by `finishTurn` moves: its status, its usage, and its run time. */
export function finishedDelta(status: TurnStatus, usage: Usage | null, startedAt: number | null, now: number): CounterDelta {
  const delta: CounterDelta = { turns_running: -1, [turnCounter(status)]: 1 };
  if (usage) Object.assign(delta, usageToColumns(usage));
  if (startedAt !== null) Object.assign(delta, { duration_ms: Math.max(0, now - startedAt), turns_timed: 1 });
  return delta;
}

/** The counters an imported history moves: one per turn, by status (its usage was spent elsewhere). */
export function importedDelta(turns: readonly ImportedTurn[]): CounterDelta {
  const delta: CounterDelta = {};
  for (const turn of turns) {
    const c = turnCounter(turn.status);
    delta[c] = (delta[c] ?? 0) + 1;
  }
  return delta;
}

/** `stats()` from the summed counters and the sessions counted by status. */
export function statsFrom(
  counters: Partial<Record<CounterColumn, number | null>> | undefined,
  byStatusCounts: ReadonlyArray<{ status: SessionStatus; n: number }>,
): StoreStats {
  const n = (c: CounterColumn): number => counters?.[c] ?? 0;
  const byStatus = Object.fromEntries(SESSION_STATUSES.map((s) => [s, 0])) as Record<SessionStatus, number>;
  for (const g of byStatusCounts) byStatus[g.status] = g.n;
  return {
    sessions: { live: n('live'), byStatus, created: n('created'), expired: n('expired'), evicted: n('evicted'), reset: n('reset') },
    turns: Object.fromEntries(TURN_STATUSES.map((s) => [s, n(turnCounter(s))])) as Record<TurnStatus, number>,
    usage: usageFromColumns({
      input_tokens: n('input_tokens'),
      output_tokens: n('output_tokens'),
      cache_read_tokens: n('cache_read_tokens'),
      cache_write_tokens: n('cache_write_tokens'),
      cost_micros: n('cost_micros'),
    }),
    turnTime: { totalMs: n('duration_ms'), turns: n('turns_timed') },
  };
}


/** Usage as the integer columns it is stored in (cost in micro-dollars, so sums are exact). */
export interface UsageColumns {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_micros: number;
}

/** Costs are kept to the micro-dollar, the same precision `addUsage` rounds to. */
export const toMicros = (usd: number): number => Math.round(usd * 1e6);
export const fromMicros = (micros: number): number => micros / 1e6;

export function usageToColumns(usage: Usage): UsageColumns {
  return {
    input_tokens: Math.round(usage.inputTokens),
    output_tokens: Math.round(usage.outputTokens),
    cache_read_tokens: Math.round(usage.cacheReadTokens),
    cache_write_tokens: Math.round(usage.cacheWriteTokens),
    cost_micros: toMicros(usage.costUsd),
  };
}

export function usageFromColumns(c: UsageColumns): Usage {
  return {
    inputTokens: c.input_tokens,
    outputTokens: c.output_tokens,
    cacheReadTokens: c.cache_read_tokens,
    cacheWriteTokens: c.cache_write_tokens,
    costUsd: fromMicros(c.cost_micros),
  };
}

/** A session's usage columns after a turn that used `usage` (none: as they were). */
export function usageAfter(session: UsageColumns, usage: Usage | null): UsageColumns {
  const before = usageFromColumns(session);
  return usageToColumns(usage ? addUsage(before, usage) : before);
}
