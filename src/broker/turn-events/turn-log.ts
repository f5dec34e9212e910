import { isTerminalTurnEvent, type TetherEvent } from '../../domain/events.js';
import type { SequencedEvent } from '../api.js';

/**
 * One turn's stream: its events in order and the readers waiting for more. A reader holds the
 * log itself, so a turn pruned from the index while someone still reads it stays whole for them.
 */
export class TurnLog {
  readonly events: SequencedEvent[] = [];
  endedAt: number | null = null;
  readonly #listeners = new Set<() => void>();
  readonly #offset: number;

  /** `offset`: the events the turn had before it came here (a turn begun by another process). */
  constructor(offset = 0) {
    this.#offset = offset;
  }

  get lastSeq(): number {
    return this.#offset + this.events.length;
  }

  /** Events numbered up to this one came before the turn came here (they are elsewhere). */
  get offset(): number {
    return this.#offset;
  }

  get readers(): number {
    return this.#listeners.size;
  }

  /** Adds the next event; the terminal one (`at`: the time, for retention) ends the stream. */
  append(event: TetherEvent, at = 0): SequencedEvent {
    const item = { seq: this.lastSeq + 1, event };
    this.events.push(item);
    if (isTerminalTurnEvent(event)) this.endedAt = at;
    this.#wake();
    return item;
  }

  /** Ends the stream without a terminal event (its source broke off): readers stop at what they have. */
  end(at = 0): void {
    this.endedAt ??= at;
    this.#wake();
  }

  /** A re-iterable view: each iteration follows from `afterSeq`. Holding it holds the log. */
  reader(afterSeq = 0, signal?: AbortSignal): AsyncIterable<SequencedEvent> {
    return { [Symbol.asyncIterator]: () => this.follow(afterSeq, signal) };
  }

  #wake(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Events after `afterSeq`, then live ones until the terminal event or `signal`. */
  async *follow(afterSeq: number, signal?: AbortSignal): AsyncGenerator<SequencedEvent> {
    let wake: (() => void) | null = null;
    const listener = (): void => wake?.();
    this.#listeners.add(listener);
    signal?.addEventListener('abort', listener);
    try {
      let index = Math.max(0, afterSeq - this.#offset);
      for (;;) {
        while (index < this.events.length) {
          const item = this.events[index++]!;
          if (item.seq <= afterSeq) continue;
          yield item;
          if (isTerminalTurnEvent(item.event)) return;
        }
        if (this.endedAt !== null || signal?.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      this.#listeners.delete(listener);
      signal?.removeEventListener('abort', listener);
    }
  }
}
