/** The shared event journal: what one node's turns emit, for the other nodes' streams. */
export interface EventJournal {
  /** Appends events in order, in one transaction; each gets the next id of the journal. */
  appendEvents(events: SharedEventInput[]): Promise<void>;

  /**
   * Events with id above `afterId`, oldest first, at most `limit`: of one turn (`turnId`), or of
   * every turn and session (tail). Events of `excludeOrigin` (the reader's own) are left out.
   */
  readEvents(filter: SharedEventFilter): Promise<SharedEvent[]>;

  /** The highest event id so far (0 when none): where a new tail starts. */
  lastEventId(): Promise<number>;

  /** Removes events older than `olderThanMs` (store clock). Returns how many went. */
  pruneEvents(olderThanMs: number): Promise<number>;

  /**
   * A wake-up hint: `listener` is called when another node has appended events (PostgreSQL:
   * LISTEN/NOTIFY). Optional; without it readers poll. The journal stays the truth.
   */
  onEventsAppended?(listener: () => void): () => void;
}

export interface SharedEventInput {
  tenant: string;
  /** The turn the event belongs to; null for session events. */
  turnId: string | null;
  /** The node that emitted it. */
  origin: string;
  /** A TetherEvent, stored as JSON. */
  event: unknown;
}

export interface SharedEvent extends SharedEventInput {
  id: number;
}

export interface SharedEventFilter {
  afterId: number;
  limit: number;
  turnId?: string;
  excludeOrigin?: string;
}
