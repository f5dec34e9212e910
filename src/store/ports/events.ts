/** The shared event journal: what one node's turns emit, for the other nodes' streams. */
export interface EventJournal {
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
