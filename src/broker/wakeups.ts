import type { Clock } from '../domain/clock.js';

/**
 * Wakes turns waiting for a session's lease when a turn of this process ends, so the next one
 * starts at once; turns queued behind another process's turn are found by polling, with backoff
 * (see waitForLease), or woken by that process's events reaching this one.
 */
export class Wakeups {
  readonly #clock: Clock;
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Resolves on the next `wake(sessionId)` or after `ms`, whichever comes first. */
  wait(sessionId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let set = this.#waiters.get(sessionId);
      if (!set) this.#waiters.set(sessionId, (set = new Set()));
      const waiters = set;
      const done = (): void => {
        timer.cancel();
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(sessionId) === waiters) this.#waiters.delete(sessionId);
        resolve();
      };
      const timer = this.#clock.timeout(ms, done);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  wake(sessionId: string): void {
    for (const done of [...(this.#waiters.get(sessionId) ?? [])]) done();
  }
}
