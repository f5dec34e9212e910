import type {
  BackendName,
  CloseReason,
  ContextInfo,
  Labels,
  Lease,
  Metadata,
  SessionConfig,
  SessionRecord,
  SessionStatus,
  TurnError,
  TurnRecord,
  TurnStatus,
  Usage,
} from '../domain/types.js';

/**
 * The store port: everything Tether persists, behind one async interface so that the SQLite
 * adapter and a PostgreSQL adapter are interchangeable without the broker noticing.
 *
 * Rules every adapter keeps (the shared behaviour suite in test/store checks them):
 * - every method that changes state is one transaction: it happens whole or not at all;
 * - time comes from `now()`, the store's clock (the database clock where there is one);
 * - a key has at most one live (idle or running) session per tenant, enforced by the database;
 * - turn writes are fenced: a lease whose epoch or token no longer matches gets LEASE_LOST
 *   and changes nothing;
 * - sweeps touch only the rows they change (indexed), never scan every session.
 */
export interface Store {
  /** Adapter name for logs and /readyz: `sqlite`, `memory`, `postgres`. */
  readonly kind: string;

  /** The store's clock, epoch milliseconds. */
  now(): Promise<number>;

  /**
   * Journals a prompt as a `queued` turn of the key's live session, creating the session first
   * when the key has none (get-or-create and journal in one transaction, so two concurrent first
   * messages make one session). Before that, in the same transaction:
   * - a live session whose idle TTL has passed (and that is quiet: no unexpired lease, nothing
   *   queued) is closed as `expired`, and a new generation opens;
   * - `rotate(session)` is asked, for a quiet live session, whether the session must be closed
   *   first (context policy); a non-null reason closes it and opens a new generation;
   * - creating a session at the `maxSessions` cap evicts the least recently used quiet live
   *   session (`onLimit: 'evict-lru'`) or throws LIMIT_REACHED (`'reject'`, or nothing evictable).
   * Throws SESSION_BUSY (`onBusy: 'reject'` and a turn is running or queued) or QUEUE_FULL
   * (`maxQueue` turns already wait), having changed nothing.
   * With `leaseTtlMs`, a turn queued on a quiet session (nothing running, nothing queued) gets
   * the lease in the same transaction, as `acquireLease` would grant it: `lease` is then set and
   * the turn is already `running`.
   */
  enqueueTurn(input: EnqueueTurnInput): Promise<EnqueueTurnResult>;

  /**
   * Grants the session's lease to `owner` to run `turnId`, if the lease is free or expired and
   * `turnId` is the oldest queued turn of the session. The epoch increases with each grant.
   * Taking over an expired lease ends the turns still `running` under it as `interrupted`.
   * On success the turn becomes `running` and the session `running`.
   */
  acquireLease(input: AcquireLeaseInput): Promise<AcquireLeaseResult>;

  /**
   * Asks whichever process runs the turn to stop it: marks the turn while it is running, and the
   * holder's next `renewLease` answers with `interruptRequested`. False when it is not running.
   */
  requestInterrupt(turnId: string): Promise<boolean>;

  /**
   * Records that the agent account behind `backend` is out of quota until `until` (epoch ms),
   * for every node on the store. A later time extends it; an earlier one changes nothing.
   */
  setUsageLimit(backend: BackendName, until: number, reason: string): Promise<void>;

  /** The usage limit recorded for `backend`, or null. It may have passed: callers compare. */
  getUsageLimit(backend: BackendName): Promise<{ until: number; reason: string } | null>;

  /**
   * Extends a held lease to now + ttlMs, with `interruptRequested` set when the turn running under
   * it was asked to stop. Throws LEASE_LOST if it is no longer held.
   */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;

  /**
   * Records the agent's conversation id as soon as it is known (fenced by the lease); null when
   * the next turn is to start a new conversation (a regenerated first turn).
   */
  setAgentSession(lease: Lease, agentSessionId: string | null): Promise<void>;

  /**
   * Ends a running turn (`succeeded`, `failed` or `interrupted`), adds its usage to the session,
   * sets the session's context, slides its expiry and releases the lease, all fenced by the
   * lease: throws LEASE_LOST and changes nothing if the lease was taken over meanwhile.
   */
  finishTurn(input: FinishTurnInput): Promise<FinishTurnResult>;

  /** Ends a turn that never started (still `queued`) as `interrupted`. False if it was not queued. */
  abandonTurn(turnId: string, error: TurnError): Promise<boolean>;

  /**
   * Frees leases whose owner is gone and ends the turns they left: `running` turns under a
   * lease that expired or whose owner `isOwnerAlive` says is dead become `interrupted`. `queued`
   * turns accepted by a dead owner are handed to `adoptQueuedAs` (they never started, so the
   * adopter can run them) or, without one, become `interrupted` too. Used at start-up and by the
   * janitor.
   */
  recover(input: RecoverInput): Promise<RecoverResult>;

  /** Closes up to `limit` quiet live sessions whose idle TTL has passed, as `expired`. */
  sweepExpired(limit: number): Promise<SessionRecord[]>;

  /** Evicts least recently used quiet live sessions until at most `maxSessions` are live. */
  enforceCap(maxSessions: number, limit: number): Promise<SessionRecord[]>;

  /**
   * Closes the key's live session with `reason` (status `closed`, or `expired` for that reason);
   * throws SESSION_BUSY while a turn of it is running or queued. Null when the key has no live
   * session.
   */
  closeSession(tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null>;

  /**
   * Removes every session and turn of the key. Throws SESSION_BUSY while a turn of it runs or
   * waits. Returns how many sessions were removed (0: the key was unknown).
   */
  deleteKey(tenant: string, key: string): Promise<number>;

  /**
   * Changes the key's live session for its next turns: config fields given (model, permission
   * mode…) replace the current ones; labels and metadata are merged (a null value removes a
   * name). Allowed while a turn runs. Throws NOT_FOUND when the key has no live session, and
   * LIMIT_REACHED when new labels would pass a quota in `labelQuotas`.
   */
  updateSession(tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord>;

  /**
   * Creates a live session from a copy (a fork, or an imported bundle): the given conversation,
   * config, labels, metadata, usage and context, and its ended turns as history. The key must
   * have no live session (INVALID_INPUT) unless `replace`, which closes it as `reset` first
   * (SESSION_BUSY while it has a turn running or queued). The cap and label quotas apply as for a
   * new session. Turns are renumbered after the key's earlier generations.
   */
  importSession(input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }>;

  /** The key's live session, or null. Never changes anything. */
  getLiveSession(tenant: string, key: string): Promise<SessionRecord | null>;

  /** The key's latest generation whatever its status, or null. Never changes anything. */
  getLatestSession(tenant: string, key: string): Promise<SessionRecord | null>;

  getSession(id: string): Promise<SessionRecord | null>;

  /** Latest generation of each key matching the filter, most recently active first. */
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;

  getTurn(id: string): Promise<TurnRecord | null>;

  /** Turns of a key across its generations, in sequence order. */
  listTurns(filter: TurnFilter): Promise<TurnRecord[]>;

  /** Counts by status and running totals; per tenant or, without one, overall. */
  stats(tenant?: string): Promise<StoreStats>;

  // --- transcript mirror: Tether's own copy of each agent conversation (the Agent SDK's
  // SessionStore is adapted onto these, see src/agents/claude/transcript-mirror.ts) -----------

  /**
   * Appends entries to a transcript in the order given. An entry whose `uuid` the transcript
   * already holds is skipped, so retried and replayed batches never duplicate; entries without a
   * `uuid` are always appended. `projectKey` is recorded (last write wins) for `listTranscripts`.
   */
  appendTranscript(ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void>;

  /** The transcript's entries in append order; null when nothing was ever appended to it. */
  loadTranscript(ref: TranscriptRef): Promise<TranscriptEntry[] | null>;

  /** Main transcripts (no subpath) last written under `projectKey`, with that time (store clock, ms). */
  listTranscripts(projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>>;

  /** Subpaths (subagent transcripts) stored under a conversation, sorted. */
  listTranscriptSubpaths(agentSessionId: string): Promise<string[]>;

  /**
   * Removes a transcript; a ref without `subpath` removes the main transcript and every subpath
   * under it. Returns how many entries went. (`deleteKey` also removes the transcripts of the
   * key's sessions.)
   */
  deleteTranscript(ref: TranscriptRef): Promise<number>;

  // --- shared event journal: what one node's turns emit, for the other nodes' streams ---------

  /**
   * Appends events in order, in one transaction; each gets the next id of the journal. A turn
   * event carries its number in its turn's stream (`seq`); one whose turn already has an event
   * of that number is left out (the first writer of a number wins).
   */
  appendEvents(events: SharedEventInput[]): Promise<void>;

  /**
   * At most `limit` events, oldest first: of one turn by number (`turnId`, `afterSeq`), or of
   * every turn and session by journal id (a tail: `afterId`), leaving out those of
   * `excludeOrigin` (the reader's own).
   */
  readEvents(filter: SharedEventFilter): Promise<SharedEvent[]>;

  /** The highest event id so far (0 when none): where a new tail starts. */
  lastEventId(): Promise<number>;

  /** The highest number of a turn's events in the journal (0 when none). */
  lastEventSeq(turnId: string): Promise<number>;

  /** Removes events older than `olderThanMs` (store clock). Returns how many went. */
  pruneEvents(olderThanMs: number): Promise<number>;

  /**
   * A wake-up hint: `listener` is called when another node has appended events (PostgreSQL:
   * LISTEN/NOTIFY). Optional; without it readers poll. The journal stays the truth.
   */
  onEventsAppended?(listener: () => void): () => void;

  // --- nodes: Tether processes sharing the store ---------------------------------------------

  /**
   * Records that broker process `owner` is alive until now + ttlMs (store clock); `ttlMs` 0
   * removes it (a clean shutdown). Other nodes read this to tell a dead node from a quiet one.
   */
  heartbeat(owner: string, ttlMs: number): Promise<void>;

  /** Owners whose heartbeat has not expired, by the store's clock. */
  liveOwners(): Promise<string[]>;

  /**
   * Runs `fn` only if no other node runs a section of the same name now (PostgreSQL: an advisory
   * lock); resolves null without running it otherwise. Used so that one janitor sweeps at a time.
   */
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null>;

  /** Releases the connection. Further calls throw. */
  close(): Promise<void>;
}

export interface SharedEventInput {
  tenant: string;
  /** The turn the event belongs to; null for session events. */
  turnId: string | null;
  /** The event's number in its turn's stream (1, 2, 3…); null for session events. */
  seq: number | null;
  /** The node that emitted it. */
  origin: string;
  /** A TetherEvent, stored as JSON. */
  event: unknown;
}

export interface SharedEvent extends SharedEventInput {
  id: number;
}

export type SharedEventFilter =
  | { afterId: number; limit: number; excludeOrigin?: string }
  | { turnId: string; afterSeq: number; limit: number };

/** Which transcript: a conversation's main one, or a subagent's under `subpath`. */
export interface TranscriptRef {
  agentSessionId: string;
  /** Absent (or '') for the main transcript. */
  subpath?: string;
}

/** One line of an agent's transcript: opaque JSON, kept deep-equal, never interpreted. */
export interface TranscriptEntry {
  type: string;
  uuid?: string;
  timestamp?: string;
  [field: string]: unknown;
}

export type OnLimit = 'evict-lru' | 'reject';
export type OnBusy = 'queue' | 'reject';

export interface EnqueueTurnInput {
  tenant: string;
  key: string;
  /** Used only when a session is created. */
  backend: BackendName;
  /** Used only when a session is created (the broker passes the effective config). */
  config: SessionConfig;
  /** Labels of a created session; a new generation keeps the previous one's, these merged on top. */
  labels: Labels;
  /** Metadata of a created session; a new generation keeps the previous one's, this merged on top. */
  metadata?: Metadata;
  /** At most this many live sessions of the tenant per value of each named label (LIMIT_REACHED). */
  labelQuotas?: Record<string, number>;
  prompt: string;
  /**
   * Runs the session's last turn again (`regenerate`): the id of that turn. The key's live
   * session must be quiet (else SESSION_BUSY) and this must be its latest turn, ended (else
   * INVALID_INPUT); no session is created, expired or rotated on the way (NOT_FOUND without one).
   */
  regenerates?: string;
  /**
   * The turn goes on the key's live session (`continue`): NOT_FOUND when there is none or it has
   * expired, instead of opening one. (At the context limit it still rotates like any turn.)
   */
  requireLive?: boolean;
  /** The broker process accepting the turn. */
  owner: string;
  /** Id to give the turn (caller-generated so it can be returned before the transaction ends). */
  turnId: string;
  /** Id to give the session if one is created. */
  newSessionId: string;
  onBusy: OnBusy;
  /** Turns that may wait behind a running one; 0 = never wait. */
  maxQueue: number;
  /** Sliding idle TTL in ms; 0 = never expires. */
  idleTimeoutMs: number;
  /** Live sessions at most, over all tenants; 0 = no cap. */
  maxSessions: number;
  onLimit: OnLimit;
  /** Context policy hook: a reason to close the quiet live session before queuing, or null. */
  rotate?: (session: SessionRecord) => CloseReason | null;
  /** Ask for the lease at once when the session is quiet (see `enqueueTurn`). */
  leaseTtlMs?: number;
  /**
   * Auto-compaction: asked, like `rotate`, about the quiet live session the turn joins (not one
   * this call opens, nor for a regenerating turn). When `wanted` says so, a turn with `prompt`
   * and id `turnId` is journaled just before this one, in the same transaction, and is the one
   * that gets the lease (`leaseTtlMs`); this turn waits behind it.
   */
  compactFirst?: { turnId: string; prompt: string; wanted: (session: SessionRecord) => boolean };
}

export interface EnqueueTurnResult {
  session: SessionRecord;
  turn: TurnRecord;
  /** True when this call created the session (first message, or a new generation). */
  created: boolean;
  /** Sessions this call closed on the way (expired, rotated, evicted), for events. */
  closed: SessionRecord[];
  /** The lease, when `leaseTtlMs` was given and the session was quiet. */
  lease?: Lease;
  /** Turns ended by taking over an expired lease (as in `acquireLease`). */
  interrupted?: TurnRecord[];
  /** The compaction journaled before the turn (`compactFirst`), holding `lease` when there is one. */
  compaction?: TurnRecord;
}

export interface AcquireLeaseInput {
  sessionId: string;
  turnId: string;
  owner: string;
  ttlMs: number;
}

export type AcquireLeaseResult =
  | { status: 'acquired'; lease: Lease; session: SessionRecord; turn: TurnRecord; interrupted: TurnRecord[] }
  /** Another holder has the lease, or an older turn is ahead in the queue: try again later. */
  | { status: 'wait' }
  /** The turn is no longer queued (ended by recovery, or its key was deleted). */
  | { status: 'gone'; turn: TurnRecord | null };

export interface FinishTurnInput {
  lease: Lease;
  turnId: string;
  status: Extract<TurnStatus, 'succeeded' | 'failed' | 'interrupted'>;
  text?: string | null;
  error?: TurnError | null;
  usage?: Usage | null;
  context?: ContextInfo | null;
  agentSessionId?: string | null;
  /** Sliding idle TTL in ms; 0 = never expires. */
  idleTimeoutMs: number;
  /**
   * Closes the session for this reason in the same transaction, when no other turn waits on it
   * (after a failed auto-compaction: the next message starts a new generation). Else it stays.
   */
  closeIfQuiet?: CloseReason;
}

export interface FinishTurnResult {
  /** The session after the turn: closed when `closeIfQuiet` closed it. */
  session: SessionRecord;
  turn: TurnRecord;
}

export interface RecoverInput {
  /** True while the broker process named by a lease or turn owner may still be running. */
  isOwnerAlive: (owner: string) => boolean;
  error: TurnError;
  /** Owner to hand the queued turns of dead owners to; absent: they are interrupted. */
  adoptQueuedAs?: string;
}

export interface RecoverResult {
  /** Turns that were running (or queued, without an adopter) under a dead owner: now `interrupted`. */
  interrupted: TurnRecord[];
  /** Leases freed. */
  freed: number;
  /** Queued turns of dead owners now owned by `adoptQueuedAs`, oldest first; still `queued`. */
  adopted: TurnRecord[];
}

export interface SessionFilter {
  tenant?: string;
  key?: string;
  status?: SessionStatus;
  /** Every given label must match exactly. */
  labels?: Labels;
  /** Every given top-level metadata value must match exactly. */
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

export interface SessionPatch {
  /** A null value clears the setting. */
  config?: { [K in 'model' | 'permissionMode' | 'appendSystemPrompt' | 'maxTurns']?: SessionConfig[K] | null };
  labels?: Record<string, string | null>;
  metadata?: Record<string, unknown>;
  labelQuotas?: Record<string, number>;
}

/** An ended turn carried into an imported or forked session. */
export interface ImportedTurn {
  prompt: string;
  status: Extract<TurnStatus, 'succeeded' | 'failed' | 'interrupted'>;
  text: string | null;
  error: TurnError | null;
  usage: Usage | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface ImportSessionInput {
  tenant: string;
  key: string;
  newSessionId: string;
  backend: BackendName;
  agentSessionId: string | null;
  config: SessionConfig;
  labels: Labels;
  metadata: Metadata;
  usage: Usage;
  context: ContextInfo;
  turns: ImportedTurn[];
  replace: boolean;
  maxSessions: number;
  onLimit: OnLimit;
  labelQuotas?: Record<string, number>;
  idleTimeoutMs: number;
}
