import type { Dialect } from './dialect.js';
import { sql, type Sql } from './query.js';

/**
 * The sweep and recovery queries, exported so that a test can EXPLAIN each of them in each
 * adapter's dialect (they must use their partial indexes). Each WHERE repeats its partial index's
 * predicate. "Quiet" = nothing queued and no unexpired lease; an expired lease does not protect a
 * session. SKIP LOCKED (PostgreSQL): a session another transaction holds is being changed right
 * now, so it is not idle; the next sweep sees it again.
 */
export const SWEEPS = {
  expiry: (d: Dialect, now: number, limit: number): Sql => sql`SELECT * FROM sessions
    WHERE live = ${d.bool(true)} AND queued = 0 AND expires_at IS NOT NULL AND expires_at <= ${now}
      AND (lease_token IS NULL OR lease_expires_at <= ${now})
    ORDER BY expires_at, ${d.rowOrder} LIMIT ${limit}${d.skipLocked}`,

  lru: (d: Dialect, now: number, limit: number): Sql => sql`SELECT * FROM sessions
    WHERE live = ${d.bool(true)} AND queued = 0 AND (lease_token IS NULL OR lease_expires_at <= ${now})
    ORDER BY last_active_at, ${d.rowOrder} LIMIT ${limit}${d.skipLocked}`,

  heldLeases: (d: Dialect): Sql => sql`SELECT * FROM sessions WHERE lease_token IS NOT NULL${d.skipLocked}`,

  /** No SKIP LOCKED here: the caller names its turn, and FIFO needs the true head. */
  queueHead: (sessionId: string): Sql => sql`SELECT id FROM turns WHERE session_id = ${sessionId} AND status = 'queued' ORDER BY seq LIMIT 1`,

  /** Unfinished turns, with what recovery needs to know of their session's lease. */
  activeTurns: (): Sql => sql`SELECT t.*, s.lease_token AS session_lease_token, s.lease_epoch AS session_lease_epoch
    FROM turns t LEFT JOIN sessions s ON s.id = t.session_id
    WHERE t.status IN ('queued', 'running')`,
} as const;
