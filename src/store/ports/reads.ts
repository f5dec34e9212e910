import type { EndedTurn } from '../../domain/usage-series.js';
import type { BackendName, Labels, SessionRecord, SessionStatus, TurnRecord, TurnStatus, Usage } from '../../domain/types.js';

/** Reads of sessions, turns and totals. None of them changes anything. */
export interface StoreReads {
  /** The key's live session, or null. */
  getLiveSession(tenant: string, key: string): Promise<SessionRecord | null>;

  /** The key's latest generation whatever its status, or null. */
  getLatestSession(tenant: string, key: string): Promise<SessionRecord | null>;

  /** A session of any generation and status by its id, or null. */
  getSession(id: string): Promise<SessionRecord | null>;

  /** Latest generation of each key matching the filter, most recently active first. */
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;

  /** A turn by its id, or null. */
  getTurn(id: string): Promise<TurnRecord | null>;

  /** Turns of a key across its generations, in sequence order. */
  listTurns(filter: TurnFilter): Promise<TurnRecord[]>;

  /**
   * The tenant's turns that ended in `[since, until)`, latest first, at most `limit`, each with
   * what its session says of it (agent, model, labels): what usage over time is made of.
   */
  endedTurns(filter: EndedTurnFilter): Promise<EndedTurn[]>;

  /** Counts by status and running totals; per tenant or, without one, overall. */
  stats(tenant?: string): Promise<StoreStats>;
}

export type { EndedTurn };

export interface EndedTurnFilter {
  tenant: string;
  since: number;
  until: number;
  limit: number;
}


export interface SessionFilter {
  tenant?: string;
  key?: string;
  status?: SessionStatus;
  /** Every given label must match exactly. */
  labels?: Labels;
  /** Keys that start with this (a search: `discord:`, `team:frontend->`). */
  keyPrefix?: string;
  /** Sessions of this agent only. */
  backend?: BackendName;
  /** Every given top-level metadata value must match exactly (as a JSON value of its type). */
  metadata?: Record<string, string | number | boolean>;
  limit?: number;
  offset?: number;
}

export interface TurnFilter {
  tenant: string;
  key: string;
  /** Only turns with seq greater than this. */
  afterSeq?: number;
  limit?: number;
}

export interface StoreStats {
  sessions: {
    /** Sessions live now (idle + running). */
    live: number;
    byStatus: Record<SessionStatus, number>;
    /** Ever created, expired, evicted, reset (running totals, kept as counters). */
    created: number;
    expired: number;
    evicted: number;
    reset: number;
  };
  turns: Record<TurnStatus, number>;
  /** Sum of every finished turn's usage. */
  usage: Usage;
  /** Sum of the durations of turns that ran to an end (started and ended), and their number. */
  turnTime: { totalMs: number; turns: number };
}
