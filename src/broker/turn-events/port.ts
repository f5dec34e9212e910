import type { TetherEvent } from '../../domain/events.js';
import type { SequencedEvent } from '../api.js';

/**
 * The one source of a turn's events (the MCP SDK's EventStore is the model): the turn handle,
 * its SSE stream, `Last-Event-ID` resumption and the other nodes all read it, numbered the same
 * everywhere (1, 2, 3… per turn). Two implementations: `MemoryTurnEvents`, for a process that
 * shares its store with no other (`:memory:`, or sharing turned off), and `JournalTurnEvents`,
 * which writes every event through to the store's event journal and reads other nodes' turns
 * from it.
 */
export interface TurnEvents {
  /**
   * Records an event this process emits. A turn event (one with `turnId`) gets the next number of
   * its turn's stream, returned; a session event is only shared. Never throws: a journal that
   * cannot be written is logged, and this process's own readers still get the event.
   */
  append(event: TetherEvent): SequencedEvent | null;
  /**
   * A turn's events after `afterSeq`, then live ones, ending after its terminal event
   * (`turn.completed` or `turn.failed`) or when `signal` aborts. Null when nothing is known here
   * of the turn (it ran long ago, or in a process that shares nothing with this one): the
   * journal's turn record is then the only truth left. Each iteration reads from `afterSeq` again.
   */
  follow(turnId: string, afterSeq: number, signal?: AbortSignal): AsyncIterable<SequencedEvent> | null;
  /** The number of the turn's last event known here or in the journal; 0 when none is. */
  lastSeq(turnId: string): Promise<number>;
  /**
   * Prepares this process to emit the events of a turn another process began (an adopted turn,
   * or one recovery ended): its numbering continues after what that process recorded.
   */
  continueTurn(turnId: string): Promise<void>;
  /** Starts what the implementation runs in the background (reading other nodes' events). */
  start(): Promise<void>;
  /** Writes what is buffered and stops the background work. */
  close(): Promise<void>;
}
