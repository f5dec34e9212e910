import type { Logger } from 'pino';
import type { AgentBackend, Spare } from '../../agents/agent.js';
import type { Clock } from '../../domain/clock.js';

/** After a failed prewarm, wait this long before trying again: no hot loop on a broken agent. */
const PREWARM_RETRY_MS = 30_000;

export interface SpareShelfOptions {
  backend: AgentBackend;
  /** Spare processes to keep parked. */
  target: number;
  /** Environment spares are parked with. */
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  /** A spare parked, died or failed to start: the pool may have a slot to give now. */
  onChange(): void;
  /** Ends a process the pool counts as exiting until it has. */
  retire(close: () => Promise<void>): void;
}

/**
 * Parked agent processes (the SDK's `prewarm`), claimable by new conversations: the runner pool
 * counts them, and the ones still starting, against its cap.
 */
export class SpareShelf {
  readonly #o: SpareShelfOptions;
  #parked: Spare[] = [];
  #starting = 0;
  #blockedUntil = 0;
  #closed = false;

  constructor(options: SpareShelfOptions) {
    this.#o = options;
  }

  /** Processes this shelf holds, parked or starting. */
  get size(): number {
    return this.#parked.length + this.#starting;
  }

  get parked(): number {
    return this.#parked.length;
  }

  /** Whether processes are still starting (close waits for them). */
  get starting(): number {
    return this.#starting;
  }

  pids(): number[] {
    return this.#parked.map((s) => s.pid).filter((pid): pid is number => pid !== null);
  }

  /** A parked spare, taken off the shelf. */
  take(): Spare | undefined {
    return this.#parked.shift();
  }

  /** Drops spares that died while parked. */
  prune(): void {
    this.#parked = this.#parked.filter((s) => s.alive);
  }

  /** Starts spares up to the target, while `room()` says the pool has a slot for one. */
  fill(room: () => boolean): void {
    const { backend } = this.#o;
    if (!backend.prewarm || this.#closed) return;
    while (this.size < this.#o.target && room() && this.#o.clock.now() >= this.#blockedUntil) {
      this.#starting++;
      backend.prewarm(this.#o.env).then(
        (spare) => this.#parkOrEnd(spare),
        (err: unknown) => {
          this.#starting--;
          this.#blockedUntil = this.#o.clock.now() + PREWARM_RETRY_MS;
          this.#o.logger.warn({ err }, 'could not park a spare agent process; new sessions start cold');
          this.#o.onChange();
        },
      );
    }
  }

  /** Ends every parked spare; the ones still starting end as they come up. */
  close(): Promise<void>[] {
    this.#closed = true;
    const closing = this.#parked.map((s) => s.close());
    this.#parked = [];
    return closing;
  }

  #parkOrEnd(spare: Spare): void {
    if (this.#closed) {
      // Counted as exiting before it stops counting as starting: the pool's close waits for it.
      this.#o.retire(() => spare.close());
      this.#starting--;
      return;
    }
    this.#starting--;
    this.#parked.push(spare);
    // A parked spare that dies is replaced.
    void spare.exited.then(() => {
      const before = this.#parked.length;
      this.#parked = this.#parked.filter((s) => s !== spare);
      if (this.#parked.length !== before) this.#o.onChange();
    });
  }
}
