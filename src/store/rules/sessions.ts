// When a session is quiet or due to expire, and how its record changes (patches, imports, closing).
import { TetherError } from '../../errors.js';
import type { Labels, Metadata, SessionRecord } from '../../domain/types.js';
import type { ImportSessionInput, SessionPatch } from '../store.js';

// --- quiet, busy, expired -------------------------------------------------------------------

/** The columns of a session row that say whether it is quiet. */
export interface LeaseColumns {
  queued: number;
  lease_token: string | null;
  lease_expires_at: number | null;
}

/** The columns of a session row that say whether it is due to expire. */
export type ExpiryColumns = LeaseColumns & { expires_at: number | null };

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
