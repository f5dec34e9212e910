import type { TetherEvent, TetherEventType, TurnResult } from '../domain/events.js';
import type { Labels, SessionConfig, SessionRecord, SessionStatus, TurnRecord } from '../domain/types.js';
import type { OnBusy, StoreStats } from '../store/store.js';
import type { RunnerPoolStats } from './runners/pool.js';

/** Options of one message. Session settings (`cwd`, `model`, …) apply when it creates a session. */
export interface SendOptions extends Partial<SessionConfig> {
  /** Owner of the key; the configured default tenant when omitted. */
  tenant?: string;
  labels?: Labels;
  /** `queue` (default): wait behind a running turn; `reject`: SESSION_BUSY at once. */
  onBusy?: OnBusy;
  /** Aborting stops the turn (journaled `interrupted`) or, if it has not started, withdraws it. */
  signal?: AbortSignal;
}

/**
 * A turn in flight: an async iterable of its TetherEvents (from `turn.queued` to `turn.completed`
 * or `turn.failed`), and `result`, which resolves with the `turn.completed` payload or rejects
 * with a TetherError. Iterating is optional; events are buffered for one late reader.
 */
export interface TurnHandle extends AsyncIterable<TetherEvent> {
  /** Resolves once the turn is journaled (or rejects if it was refused: busy, full, invalid…). */
  readonly accepted: Promise<{ turnId: string; sessionId: string; seq: number }>;
  readonly result: Promise<TurnResult>;
  /** Stops the turn (same as aborting `signal`). */
  interrupt(): void;
}

export interface ListFilter {
  tenant?: string;
  status?: SessionStatus;
  labels?: Labels;
  limit?: number;
  offset?: number;
}

export interface TetherStats extends StoreStats {
  tenant: string | null;
  /** Turns of this process that are queued or running now. */
  runningHere: number;
  /** Agent processes of this process: warm runners, spares, the cap. */
  runners: RunnerPoolStats;
}

export interface GcResult {
  expired: number;
  evicted: number;
  /** Turns ended because their process died. */
  recovered: number;
  /** Queued turns of a dead process taken over to run here (`orphanedTurns: rerun`). */
  adopted: number;
  /** Idle warm runners whose process ended (idle too long, or dead). */
  hibernated: number;
  /** Leftover processes of a Tether that died (agents, tools they ran), found by marker and killed. */
  reaped: number;
}

export type TetherListener = (event: TetherEvent) => void;

/** An event with its position in its turn's stream (1, 2, 3…); 0 = rebuilt from the journal. */
export interface SequencedEvent {
  seq: number;
  event: TetherEvent;
}

export interface Readiness {
  ready: boolean;
  store: { ok: boolean; kind: string; error?: string };
  agent: { ok: boolean; error?: string };
}

/** The library facade: everything a bridge, the CLI and the HTTP daemon do goes through it. */
export interface Tether {
  /** Sends a prompt to the key's conversation, creating the session on first use. */
  send(key: string, prompt: string, options?: SendOptions): TurnHandle;
  /** The key's current (or latest) session; null if the key is unknown. */
  get(key: string, options?: { tenant?: string }): Promise<SessionRecord | null>;
  /** Read-only busy check: never locks, never counts, never creates. */
  peek(key: string, options?: { tenant?: string }): Promise<{ exists: boolean; busy: boolean; sessionId: string | null; agentSessionId: string | null; queued: number }>;
  list(filter?: ListFilter): Promise<SessionRecord[]>;
  /** Turns of a key, oldest first, across generations. */
  turns(key: string, options?: { tenant?: string; limit?: number }): Promise<TurnRecord[]>;
  getTurn(turnId: string, options?: { tenant?: string }): Promise<TurnRecord | null>;
  /** Closes the key's current session; its next message starts a new generation. */
  reset(key: string, options?: { tenant?: string }): Promise<SessionRecord>;
  /** Removes the key with its history. */
  delete(key: string, options?: { tenant?: string }): Promise<void>;
  stats(options?: { tenant?: string }): Promise<TetherStats>;
  /**
   * Stops the key's running turn (journaled `interrupted`). Returns its id, or null when no turn
   * of the key runs in this process.
   */
  interrupt(key: string, options?: { tenant?: string }): Promise<{ turnId: string | null }>;
  /**
   * A turn's events after `afterSeq`, then live ones until it ends. A turn that ended long ago, or
   * that runs in another process, yields its outcome rebuilt from the journal (seq 0).
   * NOT_FOUND for an unknown turn or another tenant's.
   */
  turnEvents(turnId: string, options?: { tenant?: string; afterSeq?: number; signal?: AbortSignal }): AsyncIterable<SequencedEvent>;
  /** Store reachable and agent binary present: what `/readyz` reports. */
  readiness(): Promise<Readiness>;
  /** Runs the janitor's sweeps now. */
  gc(): Promise<GcResult>;
  /** Subscribes to every event of every key (`'*'`) or of one type. Returns the unsubscribe. */
  on(type: TetherEventType | '*', listener: TetherListener): () => void;
  /** Waits for running turns (interrupting them after `graceMs`), stops the janitor, closes the store. */
  close(options?: { graceMs?: number }): Promise<void>;
}
