import type { Approvals } from './ports/approvals.js';
import type { EventJournal } from './ports/events.js';
import type { NodeRegistry } from './ports/nodes.js';
import type { StoreReads } from './ports/reads.js';
import type { Recovery } from './ports/recovery.js';
import type { SessionChanges } from './ports/session-changes.js';
import type { TranscriptMirror } from './ports/transcripts.js';
import type { TurnJournal } from './ports/turns.js';
import type { UsageLimits } from './ports/usage-limits.js';

export type * from './ports/approvals.js';
export type * from './ports/events.js';
export type * from './ports/nodes.js';
export type * from './ports/reads.js';
export type * from './ports/recovery.js';
export type * from './ports/session-changes.js';
export type * from './ports/transcripts.js';
export type * from './ports/turns.js';
export type * from './ports/usage-limits.js';

/**
 * The store port: everything Tether persists, behind async interfaces split by concern
 * (src/store/ports/), so that the SQLite and PostgreSQL adapters are interchangeable without the
 * broker noticing.
 *
 * Rules every adapter keeps (the shared behaviour suite in test/store checks them):
 * - every method that changes state is one transaction: it happens whole or not at all;
 * - time comes from `now()`, the store's clock (the database clock where there is one);
 * - a key has at most one live (idle or running) session per tenant, enforced by the database;
 * - turn writes are fenced: a lease whose epoch or token no longer matches gets LEASE_LOST
 *   and changes nothing;
 * - sweeps touch only the rows they change (indexed), never scan every session.
 */
export interface Store extends TurnJournal, Recovery, SessionChanges, StoreReads, TranscriptMirror, EventJournal, NodeRegistry, UsageLimits, Approvals {
  /** Adapter name for logs and /readyz: `sqlite`, `memory`, `postgres`. */
  readonly kind: string;

  /** The store's clock, epoch milliseconds. */
  now(): Promise<number>;

  /** Releases the connection. Further calls throw. */
  close(): Promise<void>;
}
