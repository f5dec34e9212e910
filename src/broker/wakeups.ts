/**
 * Wakes turns waiting for a session's lease when a turn of this process ends, so the next one
 * starts at once; turns queued by another process are found by polling, with backoff.
 */
export class Wakeups {
  #waiters = new Map<string, Set<() => void>>();

  /** Resolves on the next `wake(sessionId)` or after `ms`, whichever comes first. */
  wait(sessionId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(sessionId);
      if (!set) this.#waiters.set(sessionId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(sessionId) === set) this.#waiters.delete(sessionId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  wake(sessionId: string): void {
    for (const done of [...(this.#waiters.get(sessionId) ?? [])]) done();
  }
}
