import type { Logger } from 'pino';
import type { TetherEvent } from '../domain/events.js';
import type { SharedEvent, Store } from '../store/store.js';

export interface EventShareOptions {
  store: Store;
  /** This node (its owner id): its own events are not read back. */
  origin: string;
  logger: Logger;
  /** Hands another node's event to this node's listeners, in journal order. */
  deliver(event: SharedEvent): Promise<void>;
  /** How often the journal is read when no wake-up hint arrives. */
  pollMs?: number;
  /** Events older than this are pruned from the journal. */
  retainMs?: number;
}

/** Events are written in batches: one transaction per burst of text deltas, not per delta. */
const FLUSH_MS = 20;
const READ_BATCH = 500;
const PRUNE_EVERY_MS = 60_000;

/**
 * Several nodes on one store see each other's turns: every event this node emits is appended to
 * the store's event journal, and the journal is tailed for the other nodes' events. The store is
 * the truth; a wake-up hint (PostgreSQL NOTIFY) only shortens the wait between reads.
 */
export class EventShare {
  readonly #o: EventShareOptions;
  #pending: Array<{ tenant: string; turnId: string | null; event: TetherEvent }> = [];
  #flushTimer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #lastId = 0;
  #stopped = false;
  #wake: (() => void) | null = null;
  #unsubscribe: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #lastPrune = 0;

  constructor(options: EventShareOptions) {
    this.#o = options;
  }

  /** Starts tailing from the journal's current end. */
  async start(): Promise<void> {
    this.#lastId = await this.#o.store.lastEventId();
    this.#unsubscribe = this.#o.store.onEventsAppended?.(() => this.#wake?.()) ?? null;
    this.#loop = this.#tail();
  }

  publish(event: TetherEvent): void {
    if (this.#stopped) return;
    this.#pending.push({ tenant: event.tenant, turnId: event.turnId ?? null, event });
    this.#flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is buffered; resolves once it is in the journal (or failed, logged). */
  flush(): Promise<void> {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#flushing;
    const origin = this.#o.origin;
    // Batches are written one after another, so the journal keeps emission order.
    this.#flushing = this.#flushing.then(() =>
      this.#o.store.appendEvents(batch.map((e) => ({ ...e, origin }))).catch((err: unknown) => {
        this.#o.logger.warn({ err, events: batch.length }, 'could not share events with other nodes');
      }),
    );
    return this.#flushing;
  }

  /** Every shared event of one turn so far (other nodes' only), oldest first. */
  async turnHistory(turnId: string): Promise<SharedEvent[]> {
    const out: SharedEvent[] = [];
    for (;;) {
      const batch = await this.#o.store.readEvents({ turnId, afterId: out.at(-1)?.id ?? 0, limit: READ_BATCH, excludeOrigin: this.#o.origin });
      out.push(...batch);
      if (batch.length < READ_BATCH) return out;
    }
  }

  async stop(): Promise<void> {
    await this.flush();
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#wake?.();
    await this.#loop;
  }

  async #tail(): Promise<void> {
    const pollMs = this.#o.pollMs ?? 100;
    while (!this.#stopped) {
      try {
        const batch = await this.#o.store.readEvents({ afterId: this.#lastId, limit: READ_BATCH, excludeOrigin: this.#o.origin });
        for (const item of batch) {
          this.#lastId = item.id;
          await this.#o.deliver(item);
        }
        if (batch.length === READ_BATCH) continue;
        await this.#prune();
      } catch (err) {
        if (this.#stopped) return;
        this.#o.logger.warn({ err }, 'could not read the shared event journal; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        // The tail alone must not keep a CLI process alive.
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
    }
  }

  async #prune(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    await this.#o.store.pruneEvents(this.#o.retainMs ?? 15 * 60_000);
  }
}
