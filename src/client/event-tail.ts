import type { TetherListener } from '../broker/api.js';
import type { TetherEvent, TetherEventType } from '../domain/events.js';
import { TetherError } from '../errors.js';
import type { HttpClient } from './http.js';
import { eventOf } from './records.js';
import { readSse } from './sse-parser.js';
import { STREAM_HEADERS, backoffMs, isRetryable, sleep, type RetryPolicy } from './turn-stream.js';

/** The tail reconnects for as long as anyone listens; only the wait between attempts is capped. */
const TAIL_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, maxMs: 10_000 };

/**
 * `on()` over HTTP: one `GET /v1/events` stream, opened with the first listener and closed with
 * the last. Events are hints (the store is the truth), so a broken tail simply reconnects and
 * what passed meanwhile is not replayed. A refusal (401, 403…) will not heal by retrying: the tail
 * stops and says so through `process.emitWarning`, the one channel a listener API leaves.
 */
export class EventTail {
  readonly #http: HttpClient;
  readonly #listeners = new Map<TetherEventType | '*', Set<TetherListener>>();
  #count = 0;
  #controller: AbortController | null = null;
  #running: Promise<void> | null = null;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  on(type: TetherEventType | '*', listener: TetherListener): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    // A wrapper per subscription, so the same function subscribed twice unsubscribes once each.
    const entry: TetherListener = (event) => listener(event);
    set.add(entry);
    this.#count += 1;
    if (this.#count === 1) this.#start();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      set.delete(entry);
      this.#count -= 1;
      if (this.#count === 0) this.stop();
    };
  }

  /** Closes the stream (listeners stay registered only if they subscribe again). */
  stop(): Promise<void> {
    this.#controller?.abort();
    this.#controller = null;
    const running = this.#running ?? Promise.resolve();
    this.#running = null;
    return running;
  }

  #start(): void {
    const controller = new AbortController();
    this.#controller = controller;
    this.#running = this.#loop(controller.signal);
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const response = await this.#http.request('GET', '/v1/events', { headers: STREAM_HEADERS, signal });
        failures = 0;
        if (response.body) {
          for await (const message of readSse(response.body)) {
            let event: TetherEvent;
            try {
              event = eventOf(message.data);
            } catch {
              continue; // A malformed hint is dropped, not a reason to stop listening.
            }
            this.#dispatch(event);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!isRetryable(err)) {
          const e = err instanceof TetherError ? `${err.code}: ${err.message}` : String(err);
          process.emitWarning(`the Tether event tail (GET ${this.#http.base}/v1/events) stopped: ${e}`, 'TetherWarning');
          return;
        }
      }
      failures += 1;
      await sleep(backoffMs(failures, TAIL_RETRY), signal);
    }
  }

  #dispatch(event: TetherEvent): void {
    for (const type of [event.type, '*'] as const) {
      for (const listener of this.#listeners.get(type) ?? []) {
        try {
          listener(event);
        } catch {
          // As in-process: one broken subscriber must not stop the others.
        }
      }
    }
  }
}
