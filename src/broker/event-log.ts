import { isTerminalTurnEvent, type TetherEvent } from '../domain/events.js';
import type { SequencedEvent } from './api.js';

interface TurnLog {
  tenant: string;
  events: SequencedEvent[];
  ended: boolean;
  endedAt: number;
  listeners: Set<(item: SequencedEvent) => void>;
}

export interface EventLogOptions {
  /** How long a finished turn's events stay replayable. */
  retainMs: number;
  /** Finished turns kept at most (oldest dropped first). */
  maxTurns: number;
}

/**
 * Every event of every turn this process runs, numbered per turn, so a client that lost its
 * stream can come back with `Last-Event-ID` and get what it missed, then the rest. Bounded:
 * a finished turn stays for `retainMs` and at most `maxTurns` finished turns are kept; after
 * that the journal (the store) still has the turn's outcome.
 */
export class TurnEventLog {
  readonly #turns = new Map<string, TurnLog>();
  readonly #options: EventLogOptions;

  constructor(options: EventLogOptions) {
    this.#options = options;
  }

  append(turnId: string, event: TetherEvent): SequencedEvent {
    let log = this.#turns.get(turnId);
    if (!log) {
      log = { tenant: event.tenant, events: [], ended: false, endedAt: 0, listeners: new Set() };
      this.#turns.set(turnId, log);
    }
    const item = { seq: log.events.length + 1, event };
    log.events.push(item);
    if (isTerminalTurnEvent(event)) {
      log.ended = true;
      log.endedAt = Date.now();
      this.#prune();
    }
    for (const listener of [...log.listeners]) listener(item);
    return item;
  }

  /** Starts an empty log for a turn whose events will arrive from elsewhere (another node). */
  ensure(turnId: string, tenant: string): void {
    if (!this.#turns.has(turnId)) this.#turns.set(turnId, { tenant, events: [], ended: false, endedAt: 0, listeners: new Set() });
  }

  has(turnId: string): boolean {
    return this.#turns.has(turnId);
  }

  tenantOf(turnId: string): string | null {
    return this.#turns.get(turnId)?.tenant ?? null;
  }

  /**
   * Events after `afterSeq`, then live ones until the turn's terminal event. Ends at once if the
   * turn is unknown here. Aborting `signal` ends the iteration.
   */
  async *follow(turnId: string, afterSeq: number, signal?: AbortSignal): AsyncGenerator<SequencedEvent> {
    const log = this.#turns.get(turnId);
    if (!log) return;
    const pending: SequencedEvent[] = log.events.filter((e) => e.seq > afterSeq);
    let wake: (() => void) | null = null;
    const listener = (item: SequencedEvent): void => {
      if (item.seq > afterSeq) pending.push(item);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    log.listeners.add(listener);
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        while (pending.length > 0) {
          const item = pending.shift()!;
          yield item;
          if (isTerminalTurnEvent(item.event)) return;
        }
        if (log.ended || signal?.aborted) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      log.listeners.delete(listener);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #prune(): void {
    const cutoff = Date.now() - this.#options.retainMs;
    const finished = [...this.#turns.entries()].filter(([, log]) => log.ended && log.listeners.size === 0);
    const excess = finished.length - this.#options.maxTurns;
    finished.forEach(([turnId, log], index) => {
      if (index < excess || log.endedAt < cutoff) this.#turns.delete(turnId);
    });
  }
}
