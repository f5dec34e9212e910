/** Where a section waits for the mutex. */
export interface MutexOptions {
  /**
   * Ahead of every ordinary section waiting (behind earlier urgent ones): for small sections
   * that must not wait out a backlog, such as a lease renewal behind hundreds of enqueues.
   */
  urgent?: boolean;
}

/**
 * Runs async sections one at a time: urgent ones first, each lane in the order asked for. A
 * free mutex starts the section at once, synchronously, so an uncontended call behaves as a
 * plain call would.
 *
 * A contended mutex hands over on the next turn of the event loop, not in a microtask. SQLite
 * statements run synchronously, so a backlog handed over microtask by microtask would run as one
 * block: 600 queued transactions on a busy disk kept timers, sockets and the agents' output
 * waiting for 16 s in a benchmark, long enough for the lease keeper's timer to miss its leases.
 * Between two sections, everything else the process has to do gets its turn.
 */
export class Mutex {
  #held = false;
  readonly #urgent: Array<() => void> = [];
  readonly #waiting: Array<() => void> = [];

  run<T>(section: () => Promise<T>, options: MutexOptions = {}): Promise<T> {
    if (this.#held) {
      const lane = options.urgent ? this.#urgent : this.#waiting;
      return new Promise<void>((resolve) => lane.push(resolve)).then(() => this.#enter(section));
    }
    this.#held = true;
    return this.#enter(section);
  }

  /** Sections waiting. */
  get waiting(): number {
    return this.#urgent.length + this.#waiting.length;
  }

  async #enter<T>(section: () => Promise<T>): Promise<T> {
    try {
      return await section();
    } finally {
      // Handed over while still held, so no newcomer slips in between. The next section is
      // picked when its turn comes, so an urgent one asked for meanwhile goes first.
      if (this.waiting > 0) {
        // eslint-disable-next-line no-restricted-globals -- a turn of the event loop, not a wait on time
        setImmediate(() => (this.#urgent.shift() ?? this.#waiting.shift())!());
      } else this.#held = false;
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
