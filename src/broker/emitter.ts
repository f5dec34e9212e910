import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import { failedTurnEvent, type SessionEvent, type TetherEvent, type TetherEventType } from '../domain/events.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import type { SequencedEvent, TetherListener } from './api.js';
import { EventBus } from './event-bus.js';
import type { TurnEvents } from './turn-events/port.js';

/**
 * Where every event this process emits goes: its turn's stream (TurnEvents: the handle, SSE,
 * the other nodes) and this process's listeners. Other processes' events reach the listeners
 * through `foreign`, called by the shared journal's tail.
 */
export class Emitter {
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #events: TurnEvents;

  constructor(events: TurnEvents, clock: Clock, logger: Logger) {
    this.#events = events;
    this.#clock = clock;
    this.#bus = new EventBus((err) => logger.warn({ err }, 'event listener threw'));
  }

  emit(event: TetherEvent): SequencedEvent | null {
    const item = this.#events.append(event);
    this.#bus.emit(event);
    return item;
  }

  /** Another process's event: for this process's listeners only (it is in the journal already). */
  foreign(event: TetherEvent): void {
    this.#bus.emit(event);
  }

  on(type: TetherEventType | '*', listener: TetherListener): () => void {
    return this.#bus.on(type, listener);
  }

  /** A session event, stamped now. */
  session(type: SessionEvent['type'], session: SessionRecord, extra: Partial<SessionEvent> = {}): void {
    this.emit({ type, tenant: session.tenant, key: session.key, sessionId: session.id, generation: session.generation, ...extra, at: isoNow(this.#clock) });
  }

  /** What closing a session announces, by its close reason (deletion announces nothing). */
  closed(session: SessionRecord): void {
    switch (session.closeReason) {
      case 'expired':
        return this.session('session.expired', session);
      case 'evicted':
        return this.session('session.evicted', session);
      case 'context':
        return this.session('session.reset', session, { reason: 'context' });
      case 'reset':
        return this.session('session.reset', session, { reason: 'user' });
      default:
        return undefined;
    }
  }

  /**
   * Announces the end of a turn that stopped without reporting it (its process died, or its lease
   * was taken over): `turn.failed` with the journal's error, numbered after what its process
   * recorded of it, after `before` (what ended with it, e.g. its withdrawn approvals).
   */
  async endedElsewhere(turn: TurnRecord, before: readonly TetherEvent[] = []): Promise<void> {
    await this.#events.continueTurn(turn.id);
    for (const event of before) this.emit(event);
    this.emit(failedTurnEvent(turn, turn.endedAt === null ? this.now() : new Date(turn.endedAt).toISOString()));
  }

  /** ISO time now on the broker's clock: every event's `at`. */
  now(): string {
    return isoNow(this.#clock);
  }
}
