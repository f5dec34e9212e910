import { randomUUID } from 'node:crypto';
import { addUsage } from '../domain/usage.js';
import {
  SESSION_STATUSES,
  TURN_STATUSES,
  isLive,
  type CloseReason,
  type Labels,
  type Lease,
  type Metadata,
  type SessionRecord,
  type SessionStatus,
  type TurnError,
  type TurnRecord,
  type TurnStatus,
  type Usage,
} from '../domain/types.js';
import { TetherError } from '../errors.js';
import type { AcquireLeaseInput, EnqueueTurnInput, ImportedTurn, ImportSessionInput, OnLimit, SessionPatch, StoreStats } from './store.js';

/**
 * What every store adapter decides the same way, whatever its SQL: which counters `stats()`
 * keeps, when a session is quiet, which call is refused and with what error, how a lease is
 * granted and fenced, how money is stored, how patches merge. The adapters hold the queries
 * (and the locks); the rules live here once.
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

// --- quiet, busy, expired -------------------------------------------------------------------

/** The columns of a session row that say whether it is quiet. */
interface LeaseColumns {
  queued: number;
  lease_token: string | null;
  lease_expires_at: number | null;
}

/** The columns of a session row that say whether it is due to expire. */
type ExpiryColumns = LeaseColumns & { expires_at: number | null };

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

/** A quiet live session whose idle TTL has passed: the next message or sweep closes it as expired. */
export function isDue(row: ExpiryColumns, now: number): boolean {
  return isQuiet(row, now) && row.expires_at !== null && row.expires_at <= now;
}

/** SESSION_BUSY for closing, deleting or replacing a session that is not quiet. */
export function assertQuiet(row: LeaseColumns & { key: string }, now: number): void {
  if (!isQuiet(row, now)) {
    throw new TetherError('SESSION_BUSY', `session "${row.key}" is busy: a turn is running or queued; interrupt it or wait until it ends`, {
      details: { key: row.key, queued: row.queued },
    });
  }
}

// --- enqueueTurn ------------------------------------------------------------------------------

/**
 * Why a turn that must go on the key's live session cannot, or null when it can (see
 * `EnqueueTurnInput.requireLive` and `regenerates`). The session must exist and not have expired;
 * a regenerating turn also needs it quiet, and `target` to be its latest turn, ended.
 */
export function continuationRefusal(
  input: { key: string; requireLive?: boolean; regenerates?: string },
  live: (ExpiryColumns & { id: string; turn_seq: number }) | undefined,
  target: { session_id: string; seq: number; status: string } | undefined,
  now: number,
): TetherError | null {
  const { key } = input;
  const expired = live !== undefined && isDue(live, now);
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

/**
 * Why the key's live session must be closed before a new turn is queued, or null: a quiet one
 * past its idle TTL is `expired`; otherwise the `rotate` hook (context policy) is asked about a
 * quiet one, given the session as `record` makes it. A regenerating turn takes it as it is.
 */
export function closeBeforeEnqueue<R extends ExpiryColumns>(
  input: Pick<EnqueueTurnInput, 'regenerates' | 'rotate'>,
  live: R,
  now: number,
  record: (row: R) => SessionRecord,
): CloseReason | null {
  if (input.regenerates !== undefined || !isQuiet(live, now)) return null;
  if (isDue(live, now)) return 'expired';
  return input.rotate ? input.rotate(record(live)) : null;
}

/** SESSION_BUSY (`onBusy: 'reject'`) or QUEUE_FULL for a turn joining the live session, or null. */
export function joinRefusal(input: Pick<EnqueueTurnInput, 'key' | 'onBusy' | 'maxQueue'>, live: LeaseColumns, now: number): TetherError | null {
  // A quiet session runs the new turn at once, so it waits behind nothing and cannot be "full".
  if (isQuiet(live, now)) return null;
  if (input.onBusy === 'reject') {
    return new TetherError('SESSION_BUSY', `session "${input.key}" is busy: a turn is running or queued; retry later or queue the message`, {
      details: { key: input.key, queued: live.queued },
    });
  }
  if (live.queued >= input.maxQueue) {
    return new TetherError('QUEUE_FULL', `session "${input.key}" already has ${live.queued} turns waiting (maxQueue ${input.maxQueue}); retry when some have run`, {
      details: { key: input.key, queued: live.queued, maxQueue: input.maxQueue },
    });
  }
  return null;
}

// --- the cap and label quotas -----------------------------------------------------------------

/** Whether `maxSessions` caps anything (0 = no cap, like idleTimeoutMs 0). */
export function isCapped(maxSessions: number): boolean {
  return maxSessions > 0 && Number.isFinite(maxSessions);
}

/**
 * How many quiet sessions must be evicted for one more live session to fit under the cap, with
 * `live` live now: 0 when there is room. More than one when the cap was lowered below the live
 * count, so that the cap holds afterwards. Throws LIMIT_REACHED when the policy is `reject`.
 */
export function evictionsNeeded(input: { maxSessions: number; onLimit: OnLimit }, live: number): number {
  const max = input.maxSessions;
  if (live < max) return 0;
  if (input.onLimit === 'reject') {
    throw capReached(
      max,
      live,
      `; close or reset idle sessions, raise maxSessions (TETHER_MAX_SESSIONS), or let Tether evict the least recently used one (onLimit 'evict-lru')`,
    );
  }
  return live - max + 1;
}

/** LIMIT_REACHED when fewer sessions than `evictionsNeeded` said could be evicted. */
export function nothingToEvict(input: { maxSessions: number }, live: number): TetherError {
  return capReached(
    input.maxSessions,
    live,
    ' and no idle session can be evicted (every live session is running or has turns queued); retry when a turn has finished, or raise maxSessions (TETHER_MAX_SESSIONS)',
  );
}

function capReached(max: number, live: number, what: string): TetherError {
  return new TetherError('LIMIT_REACHED', `the session limit is reached (${live} live sessions, maxSessions ${max})${what}`, {
    details: { live, maxSessions: max },
  });
}

/**
 * The label quotas that `labels` fall under, in label-name order (the order PostgreSQL locks
 * them in, so two checks cannot deadlock).
 */
export function quotasOf(labels: Labels, quotas: Record<string, number> | undefined): Array<{ name: string; value: string; max: number }> {
  return Object.entries(quotas ?? {})
    .filter(([name]) => typeof labels[name] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, max]) => ({ name, value: labels[name]!, max }));
}

/** LIMIT_REACHED when `live` other live sessions already carry the quota's label value. */
export function assertQuota(quota: { name: string; value: string; max: number }, live: number): void {
  const { name, value, max } = quota;
  if (live >= max) {
    throw new TetherError('LIMIT_REACHED', `the quota for label ${name}=${value} is reached (${live} live sessions, at most ${max}); close or reset one of them first`, {
      details: { label: name, value, live, max },
    });
  }
}

// --- leases -----------------------------------------------------------------------------------

/**
 * What `acquireLease` answers before looking at the queue: 'gone' when the turn is no longer
 * queued on that session or the session is no longer live, 'wait' while an unexpired lease is
 * held, null when the turn gets the lease if it heads its session's queue.
 */
export function acquireRefusal(
  input: Pick<AcquireLeaseInput, 'sessionId'>,
  turn: { status: string; session_id: string } | undefined,
  session: (LeaseColumns & { status: string }) | undefined,
  now: number,
): 'gone' | 'wait' | null {
  if (!turn || turn.status !== 'queued' || turn.session_id !== input.sessionId) return 'gone';
  if (!session || !isLive(session.status as SessionStatus)) return 'gone';
  return hasUnexpiredLease(session, now) ? 'wait' : null;
}

/** The lease a grant gives: a fresh token and the session's next epoch. */
export function nextLease(session: { id: string; lease_epoch: number }, owner: string, ttlMs: number, now: number): Lease {
  return { sessionId: session.id, owner, token: randomUUID(), epoch: session.lease_epoch + 1, expiresAt: now + ttlMs };
}

/**
 * Fencing: the session's lease must still carry this token and epoch, else LEASE_LOST. A lease
 * past its expiry that nobody has taken over or freed still passes: no one else can have written
 * since, so letting its holder finish loses nothing, while refusing would throw an answer away.
 */
export function fenced<R extends { lease_token: string | null; lease_epoch: number }>(lease: Lease, row: R | undefined): R {
  if (!row || row.lease_token !== lease.token || row.lease_epoch !== lease.epoch) {
    throw new TetherError('LEASE_LOST', `the lease on session ${lease.sessionId} (epoch ${lease.epoch}) was taken over or freed; nothing was written`, {
      details: { sessionId: lease.sessionId, epoch: lease.epoch, currentEpoch: row?.lease_epoch ?? null },
    });
  }
  return row;
}

/** LEASE_LOST unless `turn` is running under `lease`. */
export function assertRunsUnder<T extends { session_id: string; status: string; epoch: number | null }>(
  lease: Lease,
  turnId: string,
  turn: T | undefined,
): asserts turn is T {
  if (!turn || turn.session_id !== lease.sessionId || turn.status !== 'running' || turn.epoch !== lease.epoch) {
    throw new TetherError('LEASE_LOST', `turn ${turnId} is not running under this lease (epoch ${lease.epoch}); its result was not written`, {
      details: { turnId, sessionId: lease.sessionId, epoch: lease.epoch },
    });
  }
}

// --- recovery ---------------------------------------------------------------------------------

/** `isOwnerAlive`, asked at most once per owner (one recovery pass). */
export function askOnce(isOwnerAlive: (owner: string) => boolean): (owner: string) => boolean {
  const known = new Map<string, boolean>();
  return (owner) => {
    let alive = known.get(owner);
    if (alive === undefined) {
      alive = isOwnerAlive(owner);
      known.set(owner, alive);
    }
    return alive;
  };
}

/**
 * A held lease recovery frees: its owner is dead, or it expired (a live owner that stopped
 * renewing has lost track of the turn, so the turn is over either way).
 */
export function isAbandoned(
  session: { lease_owner: string | null; lease_expires_at: number | null },
  now: number,
  isAlive: (owner: string) => boolean,
): boolean {
  return (session.lease_expires_at ?? 0) <= now || !isAlive(session.lease_owner ?? '');
}

/**
 * A running turn is fenced while its session's lease is held at the turn's epoch; one that is
 * not can never be finished by anyone (fencing refuses it), so recovery ends it.
 */
export function runsUnderLease(session: { lease_token: string | null; lease_epoch: number | null } | undefined, turn: { epoch: number | null }): boolean {
  return session !== undefined && session.lease_token !== null && session.lease_epoch === turn.epoch;
}

/** Adopted turns run in the order they were accepted. */
export function byAge(a: TurnRecord, b: TurnRecord): number {
  return a.createdAt - b.createdAt || a.seq - b.seq;
}

// --- sessions ---------------------------------------------------------------------------------

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

/** NOT_FOUND for a call that needs the key's live session. */
export function noLiveSession(key: string): TetherError {
  return new TetherError('NOT_FOUND', `no live session for key "${key}"`);
}

/**
 * The session after `updateSession`: config fields given replace the current ones (null clears
 * one); labels and metadata are merged, a null value removing a name.
 */
export function patched(
  current: Pick<SessionRecord, 'config' | 'labels' | 'metadata'>,
  patch: SessionPatch,
): { config: Record<string, unknown>; labels: Labels; metadata: Metadata } {
  const config: Record<string, unknown> = { ...current.config };
  for (const [name, value] of Object.entries(patch.config ?? {})) {
    if (value === undefined || value === null) delete config[name];
    else config[name] = value;
  }
  return {
    config,
    labels: mergeRemoving(current.labels, patch.labels) as Labels,
    metadata: mergeRemoving(current.metadata, patch.metadata),
  };
}

/** INVALID_INPUT when an import would land on a live key without `replace`; SESSION_BUSY when it is busy. */
export function assertReplaceable(input: Pick<ImportSessionInput, 'key' | 'replace'>, live: LeaseColumns & { key: string }, now: number): void {
  if (!input.replace) {
    throw new TetherError('INVALID_INPUT', `key "${input.key}" already has a live session; choose another key, or replace it`, {
      details: { key: input.key },
    });
  }
  assertQuiet(live, now);
}

/** INTERNAL: a row this transaction wrote or locked is not there. */
export function vanished(what: 'session' | 'turn', id: string): TetherError {
  return new TetherError('INTERNAL', `${what} ${id} vanished inside its own transaction`);
}

/** A node's heartbeat row is forgotten this long after it expired; the table stays as small as the fleet. */
export const FORGET_NODES_AFTER_MS = 24 * 3_600_000;

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
