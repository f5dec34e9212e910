import type { TetherEvent, TurnResult } from '../domain/events.js';
import type { TetherError } from '../errors.js';
import type { SequencedEvent, TurnHandle } from './api.js';

type Accepted = { turnId: string; sessionId: string; seq: number };

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may ignore `accepted` or `result`; a refusal must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * The broker's side of a TurnHandle: it settles the promises; the events are the turn's stream
 * in TurnEvents, the same one SSE and other nodes read. A handle refused before its turn was
 * journaled has no events.
 */
export class TurnHandleImpl implements TurnHandle {
  readonly #accepted = deferred<Accepted>();
  readonly #result = deferred<TurnResult>();
  readonly controller = new AbortController();
  #events: AsyncIterable<SequencedEvent> | null = null;

  get accepted(): Promise<Accepted> {
    return this.#accepted.promise;
  }

  get result(): Promise<TurnResult> {
    return this.#result.promise;
  }

  interrupt(): void {
    this.controller.abort();
  }

  /** The turn is journaled; `events` is its stream from the first event on. */
  accept(value: Accepted, events: AsyncIterable<SequencedEvent>): void {
    this.#events = events;
    this.#accepted.resolve(value);
  }

  succeed(result: TurnResult): void {
    this.#accepted.reject(new Error('unreachable: accepted before success'));
    this.#result.resolve(result);
  }

  fail(error: TetherError): void {
    this.#accepted.reject(error);
    this.#result.reject(error);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TetherEvent> {
    try {
      await this.#accepted.promise;
    } catch {
      return;
    }
    for await (const item of this.#events ?? []) yield item.event;
  }
}
