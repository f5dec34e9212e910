import { sleep, type Clock } from '../domain/clock.js';
import type { TurnHandleImpl } from './turn-handle.js';

/**
 * The turns of this process that have not ended: what `interrupt` reaches directly, what
 * `stats` counts as running here, and what shutdown waits for (then interrupts).
 */
export class TurnsInFlight {
  /** Every send or adopted turn, accepted or not yet, with the promise that settles when it is over. */
  readonly #all = new Set<{ handle: TurnHandleImpl; done: Promise<void> }>();
  /** Accepted turns by id. */
  readonly #byTurn = new Map<string, TurnHandleImpl>();

  /** Tracks `handle` until `done` settles. */
  track(handle: TurnHandleImpl, done: Promise<void>): void {
    const entry = { handle, done };
    this.#all.add(entry);
    void done.finally(() => this.#all.delete(entry));
  }

  /** The handle of an accepted turn, reachable by its id until it ends. */
  accepted(turnId: string, handle: TurnHandleImpl): void {
    this.#byTurn.set(turnId, handle);
  }

  ended(turnId: string): void {
    this.#byTurn.delete(turnId);
  }

  handleOf(turnId: string): TurnHandleImpl | undefined {
    return this.#byTurn.get(turnId);
  }

  /** Accepted turns of this process that have not ended. */
  get running(): number {
    return this.#byTurn.size;
  }

  /** Waits until every tracked turn is over, or `graceMs` passed on `clock`; true when all ended. */
  async drain(clock: Clock, graceMs: number): Promise<boolean> {
    const pending = [...this.#all];
    if (pending.length === 0) return true;
    const over = new AbortController();
    const all = Promise.all(pending.map((p) => p.done)).then(() => true);
    try {
      return await Promise.race([all, sleep(clock, graceMs, over.signal).then(() => false)]);
    } finally {
      over.abort();
    }
  }

  /** Interrupts every tracked turn and waits for them to end. */
  async interruptAll(): Promise<number> {
    const pending = [...this.#all];
    for (const p of pending) p.handle.interrupt();
    await Promise.all(pending.map((p) => p.done));
    return pending.length;
  }
}
