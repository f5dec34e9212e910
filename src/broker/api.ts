import type { ApprovalRecord, ApprovalStatus } from '../domain/approvals.js';
import type { TetherEvent, TetherEventType, TurnResult } from '../domain/events.js';
import type { BackendName, ContextInfo, Labels, SessionConfig, SessionRecord, SessionStatus, TurnRecord } from '../domain/types.js';
import type { OnBusy, StoreStats } from '../store/store.js';
import type { SessionBundle } from './bundle.js';
import type { BucketSize, UsageGrouping, UsageSeries } from '../domain/usage-series.js';
import type { TeamsService } from '../teams/service.js';
import type { RunnerPoolStats } from './runners/pool.js';

/** Options of one message. Session settings (`cwd`, `model`, …) apply when it creates a session. */
export interface SendOptions extends Partial<Omit<SessionConfig, 'approvals'>> {
  /**
   * `ask`: tool calls the agent would ask a person about become approvals (see `approvals`,
   * `decide`); `deny`: refused. Default: the broker's `approvals` setting (`TETHER_APPROVALS`).
   */
  approvals?: 'ask' | 'deny';
  /**
   * The agent of a new session: Claude Code or Codex (default: `defaultBackend`,
   * TETHER_DEFAULT_BACKEND). A live session keeps its own; naming another is refused until a reset.
   */
  backend?: BackendName;
  /** Owner of the key; the configured default tenant when omitted. */
  tenant?: string;
  labels?: Labels;
  /**
   * Free-form data about a session this message creates (at most 16 KiB of JSON); a new
   * generation keeps the previous one's, with this merged on top. `update` changes a live one.
   */
  metadata?: Record<string, unknown>;
  /** Links: the task and the MCP session this conversation serves (kept in `metadata`). */
  taskId?: string;
  mcpSessionId?: string;
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

export interface UsageOptions {
  tenant?: string;
  /** Epoch ms. */
  since?: number;
  until?: number;
  bucket?: BucketSize;
  by?: UsageGrouping;
}

export interface ListFilter {
  tenant?: string;
  status?: SessionStatus;
  labels?: Labels;
  /** Keys that start with this (a search). */
  keyPrefix?: string;
  /** Sessions of this agent only. */
  backend?: BackendName;
  /** Top-level metadata values that must match exactly (e.g. `{ taskId: 'T-1' }`). */
  metadata?: Record<string, string | number | boolean>;
  limit?: number;
  offset?: number;
}

export interface TetherStats extends StoreStats {
  tenant: string | null;
  /** Turns of this process that are queued or running now. */
  runningHere: number;
  /** Agent processes of this process: warm runners, spares, the cap. */
  runners: RunnerPoolStats;
  /**
   * Set while the agent account's usage limit holds turns back (this process learned it from a
   * refused turn): when it resets (ISO) and why. Turns wait `queued` until then.
   */
  usageLimit?: { until: string; reason: string; backend: BackendName };
  /** Mean duration of the turns that ran to an end; null before any did. */
  averageTurnMs: number | null;
  /** Failed turns over ended ones (succeeded, failed, interrupted); null before any ended. */
  errorRate: number | null;
}

/** Which approvals `Tether.approvals` lists: the tenant's, narrowed by any of the rest, oldest first. */
export interface ApprovalListFilter {
  tenant?: string;
  status?: ApprovalStatus;
  key?: string;
  turnId?: string;
  limit?: number;
}

/** A person's decision on an approval. */
export interface ApprovalDecisionInput {
  decision: 'allow' | 'deny';
  /** Told to the agent: why it was denied, or a note with an allow. */
  message?: string;
  /** `session`: allow this tool (as the agent suggested) for the rest of the session. */
  remember?: 'session';
  /** A question's answers (question text → answer). */
  answers?: Record<string, string>;
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

export interface SessionUpdate {
  model?: string | null;
  permissionMode?: SessionConfig['permissionMode'] | null;
  labels?: Record<string, string | null>;
  metadata?: Record<string, unknown>;
}

export interface CompactResult {
  turnId: string;
  sessionId: string;
  /** Context tokens before and after, as the agent counted them. */
  preTokens: number;
  postTokens: number;
  /** The session's context after compaction. */
  context: ContextInfo;
}

/**
 * What `Tether.wake` did. `pid`: the agent process, when one runs for the session here.
 * - `woken`: a process was started now;
 * - `awake`: a warm process was there already (nothing done);
 * - `busy`: a turn is running or queued (it is warm, or about to be; nothing done);
 * - `new`: the session has no agent conversation yet, so there is nothing to resume (its first
 *   turn starts it, on a parked spare when there is one);
 * - `cold`: the session's backend starts its process only with a turn (Codex), so nothing was
 *   started; its next turn starts cold.
 */
export interface WakeResult {
  status: 'woken' | 'awake' | 'busy' | 'new' | 'cold';
  pid: number | null;
}

/** The library facade: everything a bridge, the CLI and the HTTP daemon do goes through it. */
export interface Tether {
  /** Sends a prompt to the key's conversation, creating the session on first use. */
  send(key: string, prompt: string, options?: SendOptions): TurnHandle;
  /** The key's current (or latest) session; null if the key is unknown. */
  get(key: string, options?: { tenant?: string }): Promise<SessionRecord | null>;
  /**
   * Read-only busy check: never locks, never counts, never creates. `awake`: an agent process of
   * this Tether serves the session now (warm or running a turn); absent where that is not known
   * (the HTTP client: the daemon's processes are its own).
   */
  peek(key: string, options?: { tenant?: string }): Promise<{ exists: boolean; busy: boolean; sessionId: string | null; agentSessionId: string | null; queued: number; awake?: boolean }>;
  list(filter?: ListFilter): Promise<SessionRecord[]>;
  /** Turns of a key, oldest first, across generations. */
  turns(key: string, options?: { tenant?: string; limit?: number }): Promise<TurnRecord[]>;
  getTurn(turnId: string, options?: { tenant?: string }): Promise<TurnRecord | null>;
  /** Closes the key's current session; its next message starts a new generation. */
  reset(key: string, options?: { tenant?: string }): Promise<SessionRecord>;
  /**
   * Asks the agent to compact the key's conversation (Claude Code's `/compact`): journaled as a
   * turn, emits `session.compacted`, and returns the context before and after. NOT_FOUND without
   * a live session; INVALID_INPUT when it has no conversation yet.
   */
  compact(key: string, options?: { tenant?: string }): Promise<CompactResult>;
  /**
   * Changes the key's live session for its next turns: model, permission mode, labels (merged;
   * null removes one), metadata (merged; null removes a name). NOT_FOUND without a live session.
   */
  update(key: string, patch: SessionUpdate, options?: { tenant?: string }): Promise<SessionRecord>;
  /**
   * A new session under `newKey` whose conversation starts as a copy of `key`'s — all of it, or
   * up to and including turn `atTurn` (its sequence number). The source is untouched. A `newKey`
   * with a live session is refused (INVALID_INPUT) unless `replace`.
   */
  fork(key: string, newKey: string, options?: { tenant?: string; atTurn?: number; replace?: boolean }): Promise<SessionRecord>;
  /**
   * Runs the key's last prompt again from the point before it: the agent's conversation is cut
   * back to just before the last turn, and that turn's prompt is sent again as a new turn whose
   * `regenerates` names the one it replaces (which stays in the journal, left out of forks and
   * exports). SESSION_BUSY while a turn of the key runs or waits; NOT_FOUND without a live
   * session; INVALID_INPUT when it has no ended turn to run again.
   */
  regenerate(key: string, options?: { tenant?: string; signal?: AbortSignal }): TurnHandle;
  /**
   * A turn that lets the agent go on where it stopped (a reply cut off at its turn or token
   * limit, an interrupted task) without new user text. Claude Code needs user text to take a
   * turn, so it is sent `continue`, as typing it would; the turn is journaled with that prompt.
   * NOT_FOUND without a live session; queued behind a running turn like any message.
   */
  continue(key: string, options?: { tenant?: string; signal?: AbortSignal; onBusy?: OnBusy }): TurnHandle;
  /** The key's session as a portable, versioned bundle (record, ended turns, transcript). */
  export(key: string, options?: { tenant?: string }): Promise<SessionBundle>;
  /**
   * Recreates a bundle's session here, under its key or `key`; the next turn continues its
   * conversation. A malformed bundle is INVALID_INPUT and changes nothing; a key with a live
   * session is refused unless `replace`. `cwd` replaces a working directory that does not exist here.
   */
  import(bundle: unknown, options?: { tenant?: string; key?: string; replace?: boolean; cwd?: string }): Promise<SessionRecord>;
  /**
   * Starts (prewarms) the agent process of the key's live session on this node, resuming its
   * conversation, so that its next turn runs warm: see WakeResult. The process is an idle warm
   * runner like any other: it hibernates after the idle timeout, and a turn of the session run
   * elsewhere in between makes it stale (the next turn here resumes cold). It takes a slot as a
   * turn would (a free one, else the least recently used idle runner hibernates) but never waits:
   * LIMIT_REACHED when every process runs a turn or turns wait for one. NOT_FOUND without a live
   * session; AGENT_FAILED when the process could not start.
   */
  wake(key: string, options?: { tenant?: string }): Promise<WakeResult>;
  /**
   * Hibernates the key's session on this node: ends its idle warm agent process, and resolves once
   * it has exited. The session stays; its next turn resumes cold. `slept: false` when no idle
   * process of it runs here; a process running a turn is never ended. NOT_FOUND without a live session.
   */
  sleep(key: string, options?: { tenant?: string }): Promise<{ slept: boolean }>;
  /** Removes the key with its history. */
  delete(key: string, options?: { tenant?: string }): Promise<void>;
  stats(options?: { tenant?: string }): Promise<TetherStats>;
  /**
   * Usage over time: the tenant's turns that ended in `[since, until)` (default: the last 24
   * buckets), summed per bucket and group (model, agent or a label's value) with their tokens,
   * cost, failures and latency percentiles. INVALID_INPUT for a bad window or grouping.
   */
  usage(options?: UsageOptions): Promise<UsageSeries>;
  /**
   * Stops the key's running turn (journaled `interrupted`). Returns its id, or null when no turn
   * of the key runs. A turn running in this process stops at once; one running in another
   * process or on another node sharing the store stops at its next lease renewal (a sixth of
   * `leaseTtlMs`, 5 s by default).
   */
  interrupt(key: string, options?: { tenant?: string }): Promise<{ turnId: string | null }>;
  /**
   * A turn's events after `afterSeq`, then live ones until it ends. A turn that ended long ago, or
   * that runs in another process, yields its outcome rebuilt from the journal (seq 0).
   * NOT_FOUND for an unknown turn or another tenant's.
   */
  turnEvents(turnId: string, options?: { tenant?: string; afterSeq?: number; signal?: AbortSignal }): AsyncIterable<SequencedEvent>;
  /**
   * Approvals (tool calls and questions the agents of sessions with `approvals: 'ask'` put to a
   * person), oldest first.
   */
  approvals(filter?: ApprovalListFilter): Promise<ApprovalRecord[]>;
  /** One approval; null when the tenant has none by that id. */
  approval(id: string, options?: { tenant?: string }): Promise<ApprovalRecord | null>;
  /**
   * Decides a pending approval; the turn waiting on it goes on at once (in another process or on
   * another node, within a second). NOT_FOUND for an unknown id or another tenant's,
   * ALREADY_DECIDED when it was decided or expired before, INVALID_INPUT for a malformed decision.
   */
  decide(id: string, decision: ApprovalDecisionInput, options?: { tenant?: string }): Promise<ApprovalRecord>;
  /** Store reachable, agent binary present and credentials for it: what `/readyz` reports. */
  readiness(): Promise<Readiness>;
  /** Runs the janitor's sweeps now. */
  gc(): Promise<GcResult>;
  /**
   * What the janitor's pass at start-up did: an embedded Tether sweeps once as it opens, so a
   * one-shot `tether gc` reports that pass with its own. Absent over HTTP (the daemon's own).
   */
  startupSweep?(): GcResult | null;
  /** Subscribes to every event of every key (`'*'`) or of one type. Returns the unsubscribe. */
  on(type: TetherEventType | '*', listener: TetherListener): () => void;
  /**
   * The teams of the teams file (TETHER_TEAMS), when this Tether runs them: what the MCP tools
   * call. Absent without a teams file, and on a client (`connectTether`).
   */
  readonly teams?: TeamsService;
  /** Waits for running turns (interrupting them after `graceMs`), stops the janitor, closes the store. */
  close(options?: { graceMs?: number }): Promise<void>;
}
