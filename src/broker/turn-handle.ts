import type { TetherEvent, TurnResult } from '../domain/events.js';
import { AsyncQueue } from '../lib/async-queue.js';
import type { TetherError } from '../errors.js';
import type { TurnHandle } from './api.js';

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

/** The broker's side of a TurnHandle: it pushes events and settles the promises. */
export class TurnHandleImpl implements TurnHandle {
  readonly #events = new AsyncQueue<TetherEvent>();
  readonly #accepted = deferred<Accepted>();
  readonly #result = deferred<TurnResult>();
  readonly controller = new AbortController();
  #iterated = false;

  get accepted(): Promise<Accepted> {
    return this.#accepted.promise;
  }

  get result(): Promise<TurnResult> {
    return this.#result.promise;
  }

  interrupt(): void {
    this.controller.abort();
  }

  emit(event: TetherEvent): void {
    this.#events.push(event);
  }

  accept(value: Accepted): void {
    this.#accepted.resolve(value);
  }

  succeed(result: TurnResult): void {
    this.#accepted.reject(new Error('unreachable: accepted before success'));
    this.#result.resolve(result);
    this.#events.end();
  }

  fail(error: TetherError): void {
    this.#accepted.reject(error);
    this.#result.reject(error);
    this.#events.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<TetherEvent> {
    if (this.#iterated) throw new Error('a turn handle can be iterated once');
    this.#iterated = true;
    return this.#events[Symbol.asyncIterator]();
  }
}
