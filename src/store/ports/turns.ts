import type { BackendName, CloseReason, ContextInfo, Labels, Lease, Metadata, SessionConfig, SessionRecord, TurnError, TurnRecord, TurnStatus, Usage } from '../../domain/types.js';

/**
 * The turn journal: a prompt is journaled before it is acknowledged, runs under its session's
 * lease, and ends fenced by that lease.
 */
export interface TurnJournal {
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
   * Extends a held lease to now + ttlMs, with `interruptRequested` set when the turn running under
   * it was asked to stop. Throws LEASE_LOST if it is no longer held.
   */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;

  /**
   * `renewLease` for many leases in one statement (a node renews all it holds at once): for each,
   * in order, the renewed lease, or null when it is no longer held.
   */
  renewLeases(leases: readonly Lease[], ttlMs: number): Promise<Array<Lease | null>>;

  /**
   * Asks whichever process runs the turn to stop it: marks the turn while it is running, and the
   * holder's next `renewLease` answers with `interruptRequested`. False when it is not running.
   */
  requestInterrupt(turnId: string): Promise<boolean>;

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
  /**
   * Context policy hook: a reason to close the quiet live session before queuing, or null.
   * Called inside the store's transaction: synchronous, and doing no I/O.
   */
  rotate?: (session: SessionRecord) => CloseReason | null;
  /** Ask for the lease at once when the session is quiet (see `enqueueTurn`). */
  leaseTtlMs?: number;
  /**
   * Auto-compaction: asked, like `rotate`, about the quiet live session the turn joins (not one
   * this call opens, nor for a regenerating turn). When `wanted` says so, a turn with `prompt`
   * and id `turnId` is journaled just before this one, in the same transaction, and is the one
   * that gets the lease (`leaseTtlMs`); this turn waits behind it. Synchronous, no I/O.
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
