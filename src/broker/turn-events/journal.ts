import type { Logger } from 'pino';
import { sleep, type Clock, type Timer } from '../../domain/clock.js';
import { isTerminalTurnEvent, type TetherEvent } from '../../domain/events.js';
import type { SharedEventInput, Store } from '../../store/store.js';
import type { SequencedEvent } from '../api.js';
import { MemoryTurnEvents } from './memory.js';
import type { TurnEvents } from './port.js';

export interface JournalTurnEventsOptions {
  store: Store;
  clock: Clock;
  /** This process (its owner id): its own events are not read back. */
  origin: string;
  logger: Logger;
  /** How long events stay: in this process's memory after their turn ends, and in the journal. */
  retainMs: number;
  /** Finished turns kept in memory at most. */
  maxTurns: number;
  /** Another process's event, in journal order: for this process's listeners. */
  onForeign(event: TetherEvent): void;
}

/** Events are written in batches: one transaction per burst of text deltas, not per delta. */
const FLUSH_MS = 20;
const READ_BATCH = 500;
/**
 * How often the journal is read when no wake-up hint comes (PostgreSQL's NOTIFY wakes readers at
 * once; SQLite has no such hint), and how often a reader of another process's turn checks that
 * the turn has not ended with nothing more to read (its events pruned, or never shared).
 */
const POLL_MS = 100;
const PRUNE_EVERY_MS = 60_000;
/** How long after a turn's end its terminal event may still be on its way to the journal. */
const END_GRACE_MS = 5_000;

/**
 * TurnEvents shared through the store's event journal, for processes that share a store.
 *
 * The turns this process runs are numbered and kept in memory (their readers here get each event
 * as it is emitted) and written through to the journal, in order, with their numbers. Another
 * process's turn is read from the journal by number, so every reader anywhere sees the same
 * stream; one tail of the journal hands the other processes' events to this one's listeners and
 * wakes its readers of their turns. The journal is the truth; NOTIFY is a hint.
 */
export class JournalTurnEvents implements TurnEvents {
  readonly #o: JournalTurnEventsOptions;
  readonly #local: MemoryTurnEvents;
  /** Readers of other processes' turns, woken when the tail sees one of their turn's events. */
  readonly #readers = new Map<string, Set<() => void>>();
  #pending: SharedEventInput[] = [];
  #flushTimer: Timer | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #lastId = 0;
  #lastPrune = 0;
  #stopped = new AbortController();
  readonly #tailWaker = new Waker();
  #unsubscribe: (() => void) | null = null;
  #tail: Promise<void> | null = null;

  constructor(options: JournalTurnEventsOptions) {
    this.#o = options;
    this.#local = new MemoryTurnEvents({ clock: options.clock, retainMs: options.retainMs, maxTurns: options.maxTurns });
  }

  append(event: TetherEvent): SequencedEvent | null {
    const item = this.#local.append(event);
    if (this.#stopped.signal.aborted) return item;
    this.#pending.push({ tenant: event.tenant, turnId: event.turnId ?? null, seq: item?.seq ?? null, origin: this.#o.origin, event });
    this.#flushTimer ??= this.#o.clock.timeout(FLUSH_MS, () => void this.flush());
    return item;
  }

  follow(turnId: string, afterSeq: number, signal?: AbortSignal): AsyncIterable<SequencedEvent> | null {
    const log = this.#local.logOf(turnId);
    if (!log) return { [Symbol.asyncIterator]: () => this.#followForeign(turnId, afterSeq, signal) };
    if (afterSeq >= log.offset) return log.reader(afterSeq, signal);
    // A turn this process took over: what came before it is in the journal.
    const earlier = (): AsyncGenerator<SequencedEvent> => this.#readJournal(turnId, afterSeq, log.offset);
    return {
      async *[Symbol.asyncIterator]() {
        yield* earlier();
        yield* log.follow(log.offset, signal);
      },
    };
  }

  /** A turn's events in the journal numbered from after `afterSeq` up to `upTo`. */
  async *#readJournal(turnId: string, afterSeq: number, upTo: number): AsyncGenerator<SequencedEvent> {
    for (let last = afterSeq; last < upTo; ) {
      const batch = await this.#o.store.readEvents({ turnId, afterSeq: last, limit: Math.min(READ_BATCH, upTo - last) });
      if (batch.length === 0) return;
      for (const item of batch) {
        last = item.seq ?? upTo;
        if (last > upTo) return;
        yield { seq: last, event: item.event as TetherEvent };
      }
    }
  }

  async lastSeq(turnId: string): Promise<number> {
    return this.#local.has(turnId) ? this.#local.lastSeq(turnId) : this.#o.store.lastEventSeq(turnId);
  }

  async continueTurn(turnId: string): Promise<void> {
    if (this.#local.has(turnId)) return;
    // What the other process wrote is in the journal once its flush committed; a batch it had
    // not flushed when it stopped is lost with it, and the numbering simply goes on from there.
    this.#local.log(turnId, await this.#o.store.lastEventSeq(turnId));
  }

  /** Writes what is buffered; resolves once it is in the journal (or failed, logged). */
  flush(): Promise<void> {
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#flushing;
    // Batches are written one after another, so the journal keeps emission order.
    this.#flushing = this.#flushing.then(() =>
      this.#o.store.appendEvents(batch).catch((err: unknown) => {
        this.#o.logger.warn({ err, events: batch.length }, 'could not write events to the shared journal');
      }),
    );
    return this.#flushing;
  }

  async start(): Promise<void> {
    this.#lastId = await this.#o.store.lastEventId();
    this.#unsubscribe = this.#o.store.onEventsAppended?.(() => this.#tailWaker.wake()) ?? null;
    this.#tail = this.#runTail();
  }

  async close(): Promise<void> {
    await this.flush();
    this.#stopped.abort();
    this.#unsubscribe?.();
    await this.#tail;
  }

  /** Another process's turn, read from the journal by number; woken by the tail. */
  async *#followForeign(turnId: string, afterSeq: number, signal?: AbortSignal): AsyncGenerator<SequencedEvent> {
    const { store, clock } = this.#o;
    const abort = AbortSignal.any([this.#stopped.signal, ...(signal ? [signal] : [])]);
    // Registered for the whole read, so an event the tail sees between two reads is not missed.
    const waker = new Waker();
    let readers = this.#readers.get(turnId);
    if (!readers) this.#readers.set(turnId, (readers = new Set()));
    const wake = (): void => waker.wake();
    readers.add(wake);
    let last = afterSeq;
    try {
      for (;;) {
        waker.reset();
        const batch = await store.readEvents({ turnId, afterSeq: last, limit: READ_BATCH });
        for (const item of batch) {
          last = item.seq ?? last;
          const event = item.event as TetherEvent;
          yield { seq: last, event };
          if (isTerminalTurnEvent(event)) return;
        }
        if (batch.length === READ_BATCH) continue;
        if (abort.aborted) return;
        // Ended with nothing more to read. Its node commits the turn's end before the journal
        // gets the terminal event (a flush later), so that is waited for a while; past that, the
        // end was never shared (or is pruned), and the caller rebuilds it from the turn record.
        const turn = await store.getTurn(turnId);
        if (!turn || (turn.status !== 'queued' && turn.status !== 'running')) {
          if ((await store.readEvents({ turnId, afterSeq: last, limit: 1 })).length > 0) continue;
          if (!turn || turn.endedAt === null || (await store.now()) - turn.endedAt >= END_GRACE_MS) return;
        }
        await waker.wait(clock, POLL_MS, abort);
      }
    } finally {
      readers.delete(wake);
      if (readers.size === 0 && this.#readers.get(turnId) === readers) this.#readers.delete(turnId);
    }
  }

  async #runTail(): Promise<void> {
    const { store, origin, clock } = this.#o;
    const stopped = this.#stopped.signal;
    while (!stopped.aborted) {
      this.#tailWaker.reset();
      try {
        const batch = await store.readEvents({ afterId: this.#lastId, limit: READ_BATCH, excludeOrigin: origin });
        for (const item of batch) {
          this.#lastId = item.id;
          if (item.turnId !== null) for (const wake of [...(this.#readers.get(item.turnId) ?? [])]) wake();
          this.#o.onForeign(item.event as TetherEvent);
        }
        if (batch.length === READ_BATCH) continue;
        await this.#prune();
      } catch (err) {
        if (stopped.aborted) return;
        this.#o.logger.warn({ err }, 'could not read the shared event journal; retrying');
      }
      // The tail alone must not keep a process alive (a CLI command that has done its work).
      await this.#tailWaker.wait(clock, POLL_MS, stopped, { unref: true });
    }
  }

  async #prune(): Promise<void> {
    const now = this.#o.clock.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    await this.#o.store.pruneEvents(this.#o.retainMs);
  }
}

/**
 * A wake-up that is not lost when it comes early: `wake()` between `reset()` and `wait()` makes
 * the wait return at once.
 */
class Waker {
  #woken = false;
  #wake: (() => void) | null = null;

  reset(): void {
    this.#woken = false;
  }

  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async wait(clock: Clock, ms: number, signal: AbortSignal, options?: { unref?: boolean }): Promise<void> {
    if (this.#woken) return;
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    try {
      await sleep(clock, ms, AbortSignal.any([signal, woken.signal]), options);
    } finally {
      this.#wake = null;
    }
  }
}
