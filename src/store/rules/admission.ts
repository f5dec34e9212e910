// Whether a turn may join a session: continuation rules, closing before the enqueue, busy and full queues, the session cap and label quotas.
import { TetherError } from '../../errors.js';
import type { CloseReason, Labels, SessionRecord } from '../../domain/types.js';
import type { EnqueueTurnInput, OnLimit } from '../store.js';
import { isDue, isQuiet, type LeaseColumns, type ExpiryColumns } from './sessions.js';

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
