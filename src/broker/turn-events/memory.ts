import { isTerminalTurnEvent, type TetherEvent } from '../../domain/events.js';
import type { Clock } from '../../domain/clock.js';
import type { SequencedEvent } from '../api.js';
import type { TurnEvents } from './port.js';
import { TurnLog } from './turn-log.js';

export interface MemoryTurnEventsOptions {
  clock: Clock;
  /** How long a finished turn's events stay replayable. */
  retainMs: number;
  /** Finished turns kept at most (oldest dropped first). */
  maxTurns: number;
}

/**
 * Every event of every turn this process emits, numbered per turn and kept replayable: a
 * finished turn for `retainMs`, and at most `maxTurns` finished turns; after that the journal's
 * turn record still has the outcome.
 */
export class MemoryTurnEvents implements TurnEvents {
  readonly #o: MemoryTurnEventsOptions;
  readonly #logs = new Map<string, TurnLog>();

  constructor(options: MemoryTurnEventsOptions) {
    this.#o = options;
  }

  append(event: TetherEvent): SequencedEvent | null {
    if (event.turnId === undefined) return null;
    const item = this.log(event.turnId).append(event, this.#o.clock.now());
    if (isTerminalTurnEvent(event)) this.#prune();
    return item;
  }

  follow(turnId: string, afterSeq: number, signal?: AbortSignal): AsyncIterable<SequencedEvent> | null {
    // Holds the log, not its id: a reader that starts after the turn was pruned still reads it whole.
    return this.#logs.get(turnId)?.reader(afterSeq, signal) ?? null;
  }

  /** The turn's log, created if new (`offset`: the number of events it had before it came here). */
  log(turnId: string, offset = 0): TurnLog {
    let log = this.#logs.get(turnId);
    if (!log) this.#logs.set(turnId, (log = new TurnLog(offset)));
    return log;
  }

  has(turnId: string): boolean {
    return this.#logs.has(turnId);
  }

  /** The turn's log, if this process has one. */
  logOf(turnId: string): TurnLog | undefined {
    return this.#logs.get(turnId);
  }

  async lastSeq(turnId: string): Promise<number> {
    return this.#logs.get(turnId)?.lastSeq ?? 0;
  }

  /** A process that shares nothing cannot know another's events: the numbering starts here. */
  async continueTurn(turnId: string): Promise<void> {
    this.log(turnId);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}

  #prune(): void {
    const cutoff = this.#o.clock.now() - this.#o.retainMs;
    const finished = [...this.#logs.entries()].filter(([, log]) => log.endedAt !== null && log.readers === 0);
    const excess = finished.length - this.#o.maxTurns;
    finished.forEach(([turnId, log], index) => {
      if (index < excess || log.endedAt! < cutoff) this.#logs.delete(turnId);
    });
  }
}
