// How a lease is granted, fenced and renewed, and what recovery decides about turns whose process stopped.
import { randomUUID } from 'node:crypto';
import { TetherError } from '../../errors.js';
import { isLive, type Lease, type SessionStatus, type TurnError, type TurnRecord } from '../../domain/types.js';
import type { AcquireLeaseInput } from '../store.js';
import { hasUnexpiredLease, type LeaseColumns } from './sessions.js';

/** What a turn left running under a lease nobody renews is ended with. */
export const LEASE_STOPPED: TurnError = {
  code: 'INTERRUPTED',
  message: 'the process running this turn stopped renewing its lease',
};


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
  if (!row || row.lease_token !== lease.token || row.lease_epoch !== lease.epoch) throw leaseLost(lease, row?.lease_epoch ?? null);
  return row;
}

/** LEASE_LOST for a write under `lease`, with the session's epoch now (null: no such session). */
export function leaseLost(lease: Lease, currentEpoch: number | null): TetherError {
  return new TetherError('LEASE_LOST', `the lease on session ${lease.sessionId} (epoch ${lease.epoch}) was taken over or freed; nothing was written`, {
    details: { sessionId: lease.sessionId, epoch: lease.epoch, currentEpoch },
  });
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
