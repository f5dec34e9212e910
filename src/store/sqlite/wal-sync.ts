import { open, type FileHandle } from 'node:fs/promises';
import { TetherError } from '../../errors.js';

/**
 * Durable commits without blocking the event loop. With `synchronous = FULL`, SQLite syncs the
 * WAL inside COMMIT, on the thread that called it: Node's one thread, for 8 ms on average and
 * 50 ms at worst on a busy disk (benchmark 9), during which no socket is read and no timer runs.
 * Instead the connection runs at NORMAL (the WAL written, not synced, at COMMIT; checkpoints
 * still sync) and a transaction is acknowledged only once this has synced the WAL on libuv's
 * thread pool: the same durability as FULL, the waiting off the event loop. Commits that land
 * while a sync runs share the next one (group commit), so a busy node syncs less often too.
 *
 * fdatasync on any descriptor of a file flushes the file, whoever wrote it. The WAL outlives
 * every transaction while the connection is open (SQLite removes it only when the last
 * connection closes), so one descriptor serves the connection's lifetime.
 */
export class WalSync {
  readonly #path: string;
  #handle: Promise<FileHandle> | null = null;
  /** The sync running now: it may have begun before the latest commit. */
  #running: Promise<void> | null = null;
  /** The sync that starts when the running one ends: it covers every commit made until then. */
  #next: Promise<void> | null = null;
  /** A commit has been made since the latest sync began. */
  #dirty = false;

  constructor(walPath: string) {
    this.#path = walPath;
  }

  /** Called right after each COMMIT (and each statement that wrote), before `sync`. */
  committed(): void {
    this.#dirty = true;
  }

  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void> {
    if (!this.#dirty) return this.settled();
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const next = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#next = null;
        return this.#start();
      });
    this.#next = next;
    return next;
  }

  /** Resolves once whatever was committed before the call is on disk (nothing to wait for: at once). */
  settled(): Promise<void> {
    return (this.#next ?? this.#running ?? Promise.resolve()).catch(() => undefined);
  }

  /** After the syncs asked for. */
  async close(): Promise<void> {
    await this.settled();
    const handle = this.#handle;
    this.#handle = null;
    await handle?.then((h) => h.close()).catch(() => undefined);
  }

  #start(): Promise<void> {
    // Whatever is committed by now is in the WAL this sync flushes.
    this.#dirty = false;
    const run = this.#datasync();
    this.#running = run;
    const done = (): void => {
      if (this.#running === run) this.#running = null;
    };
    run.then(done, done);
    return run;
  }

  async #datasync(): Promise<void> {
    try {
      this.#handle ??= open(this.#path, 'r');
      await (await this.#handle).datasync();
    } catch (err) {
      this.#handle = null;
      // The commit is in the WAL, and other connections see it, but it may not survive a power
      // loss: the caller is told, as SQLite's own COMMIT would have told it.
      throw new TetherError('STORE_UNAVAILABLE', `could not sync the SQLite write-ahead log ${this.#path} to disk: ${(err as Error).message}`);
    }
  }
}
