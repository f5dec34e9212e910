import type { CloseReason, TurnError, TurnStatus, Usage } from '../domain/types.js';
import { TetherError } from '../errors.js';

/**
 * What every store adapter decides the same way, whatever its SQL: which counters `stats()`
 * keeps, when a session is quiet, how money is stored, how patches merge. The adapters hold the
 * queries; the rules live here once.
 */

/** What a turn left running under a lease nobody renews is ended with. */
export const LEASE_STOPPED: TurnError = {
  code: 'INTERRUPTED',
  message: 'the process running this turn stopped renewing its lease',
};

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

/** The columns of a session row that say whether it is quiet. */
interface LeaseColumns {
  queued: number;
  lease_token: string | null;
  lease_expires_at: number | null;
}

export function hasUnexpiredLease(row: LeaseColumns, now: number): boolean {
  return row.lease_token !== null && (row.lease_expires_at ?? 0) > now;
}

/**
 * Quiet = nothing queued and no *unexpired* lease. A lease past its expiry protects nothing:
 * its holder stopped renewing, so the session may be expired, rotated, evicted, closed or
 * deleted, and closing it ends the turn stranded under that lease as interrupted.
 */
export function isQuiet(row: LeaseColumns, now: number): boolean {
  return row.queued === 0 && !hasUnexpiredLease(row, now);
}

/**
 * Why a turn that must go on the key's live session cannot, or null when it can (see
 * `EnqueueTurnInput.requireLive` and `regenerates`). The session must exist and not have expired;
 * a regenerating turn also needs it quiet, and `target` to be its latest turn, ended.
 */
export function continuationRefusal(
  input: { key: string; requireLive?: boolean; regenerates?: string },
  live: (LeaseColumns & { id: string; turn_seq: number; expires_at: number | null }) | undefined,
  target: { session_id: string; seq: number; status: string } | undefined,
  now: number,
): TetherError | null {
  const { key } = input;
  const expired = live !== undefined && isQuiet(live, now) && live.expires_at !== null && live.expires_at <= now;
  if (!live || expired) return new TetherError('NOT_FOUND', `no session for key "${key}" to go on with${expired ? ' (it expired)' : ''}; send it a message first`);
  if (input.regenerates === undefined) return null;
  if (!isQuiet(live, now)) {
    return new TetherError('SESSION_BUSY', `session "${key}" is busy: a turn is running or queued; regenerate once it is quiet`, { details: { key } });
  }
  if (!target || target.session_id !== live.id || target.seq !== live.turn_seq || target.status === 'queued' || target.status === 'running') {
    return new TetherError('INVALID_INPUT', `turn ${input.regenerates} is not the last ended turn of session "${key}"; only the last reply can be regenerated`);
  }
  return null;
}

/** Idle expiry from `now`; null when the TTL is off. */
export function expiryFrom(now: number, idleTimeoutMs: number): number | null {
  return idleTimeoutMs > 0 ? now + idleTimeoutMs : null;
}

/** `base` with `patch` laid over it; a null value removes the name (labels, metadata). */
export function mergeRemoving(base: Record<string, unknown>, patch: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...base };
  for (const [name, value] of Object.entries(patch ?? {})) {
    if (value === null) delete out[name];
    else out[name] = value;
  }
  return out;
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
