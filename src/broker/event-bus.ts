import type { TetherEvent, TetherEventType } from '../domain/events.js';

type Listener = (event: TetherEvent) => void;

/**
 * Fan-out of every event to subscribers by type or `*`. A listener that throws is dropped from
 * that delivery only: one broken subscriber must not stop a turn.
 */
export class EventBus {
  #listeners = new Map<TetherEventType | '*', Set<Listener>>();
  #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  on(type: TetherEventType | '*', listener: Listener): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(event: TetherEvent): void {
    for (const key of [event.type, '*'] as const) {
      for (const listener of this.#listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (err) {
          this.#onListenerError(err);
        }
      }
    }
  }
}
