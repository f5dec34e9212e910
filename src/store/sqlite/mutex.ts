/**
 * Runs async sections one at a time, in the order they were asked for. A free mutex starts the
 * section at once, synchronously, so an uncontended call behaves as a plain call would.
 */
export class Mutex {
  #held = false;
  readonly #waiting: Array<() => void> = [];

  run<T>(section: () => Promise<T>): Promise<T> {
    if (this.#held) return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.#enter(section));
    this.#held = true;
    return this.#enter(section);
  }

  async #enter<T>(section: () => Promise<T>): Promise<T> {
    try {
      return await section();
    } finally {
      // Handed over while still held, so no newcomer slips in between.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#held = false;
    }
  }
}

const byFile = new Map<string, { mutex: Mutex; users: number }>();

/**
 * The mutex of a database file within this process, shared by every connection to that file
 * (`file`: its identity, null for a private database such as `:memory:`). A transaction holds
 * SQLite's write lock across its awaits; another connection of this process asking for the lock
 * meanwhile would wait in SQLite's busy handler, which sleeps on the one thread that could end
 * that transaction, and fail once busy_timeout has passed. Other processes are not affected:
 * their busy handler sleeps on their own thread. `release` when the connection closes.
 */
export function fileMutex(file: string | null): { mutex: Mutex; release: () => void } {
  if (file === null) return { mutex: new Mutex(), release: () => undefined };
  let entry = byFile.get(file);
  if (!entry) byFile.set(file, (entry = { mutex: new Mutex(), users: 0 }));
  entry.users += 1;
  const shared = entry;
  let released = false;
  return {
    mutex: shared.mutex,
    release: () => {
      if (released) return;
      released = true;
      shared.users -= 1;
      if (shared.users === 0 && byFile.get(file) === shared) byFile.delete(file);
    },
  };
}
