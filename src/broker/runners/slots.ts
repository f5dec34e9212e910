import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import { ErrorCode, TetherError } from '../../errors.js';

/** What the cap asks of the pool that holds the processes. */
export interface SlotHolder {
  /** Processes the pool holds: warm runners, and spares parked or starting. */
  held(): number;
  /** Ends one idle process (the least recently used runner, else a spare); false when none may go. */
  freeOne(): boolean;
  /** Milliseconds until a pinned idle runner may go, or null when none is pinned. */
  pinLapse(): number | null;
  /** The pool is shutting down: nobody gets a slot any more. */
  closed(): boolean;
  /** A process exited: a spare may be parked in its place. */
  exited(): void;
}

/**
 * The runner pool's cap: at most `maxLive` processes, counting those held, those promised to
 * turns opening their runner (reserved), and those asked to end that have not exited yet. A
 * turn at the cap frees one idle process and waits, first come first served.
 */
export class Slots {
  readonly #maxLive: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #holder: SlotHolder;
  /** Slots promised to turns that are opening their runner. */
  #reserved = 0;
  /** Processes asked to end that have not exited yet: they still count against the cap. */
  #exiting = 0;
  #waiters: Array<() => void> = [];

  constructor(options: { maxLive: number; clock: Clock; logger: Logger; holder: SlotHolder }) {
    this.#maxLive = options.maxLive;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#holder = options.holder;
  }

  /** Agent processes that exist now, or are about to. */
  get live(): number {
    return this.#holder.held() + this.#reserved + this.#exiting;
  }

  /** Turns waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Whether a process may start for nobody in particular (a spare): room, and no turn waiting. */
  get spareRoom(): boolean {
    return this.live < this.#maxLive && this.#waiters.length === 0;
  }

  /**
   * Reserves a slot, waiting for one at the cap. `refuse` (a wake): LIMIT_REACHED rather than
   * wait behind busy processes or ahead of turns already waiting. The caller calls `filled` once
   * the process is held, or `giveBack` when it is not needed after all.
   */
  async reserve(signal: AbortSignal, refuse = false): Promise<void> {
    // First come, first served: a newcomer queues behind turns already waiting, and a waiter
    // woken without getting a slot keeps its place at the head.
    let woken = false;
    for (;;) {
      if (this.#holder.closed()) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
      if (signal.aborted) throw new TetherError(ErrorCode.INTERRUPTED, 'the turn was interrupted while waiting for an agent slot');
      if (this.live < this.#maxLive && (woken || this.#waiters.length === 0)) {
        this.#reserved++;
        return;
      }
      if (refuse && !woken && this.#waiters.length > 0) throw noSlotToWake(this.#maxLive);
      // Each waiting turn frees at most one process: slots already on their way (processes
      // exiting) are spoken for by the turns that wait before this one.
      if (this.#exiting <= this.#waiters.length && !this.#holder.freeOne() && refuse) throw noSlotToWake(this.#maxLive);
      // Wait for a process to exit or be released, or for the earliest pin to lapse (its turn
      // may have been withdrawn, and nothing else would wake us then).
      const pinLapse = this.#holder.pinLapse();
      await new Promise<void>((resolve) => {
        const timer = pinLapse === null ? null : this.#clock.timeout(pinLapse, () => wake());
        const wake = (): void => {
          timer?.cancel();
          signal.removeEventListener('abort', wake);
          this.#waiters = this.#waiters.filter((w) => w !== wake);
          resolve();
        };
        signal.addEventListener('abort', wake, { once: true });
        if (woken) this.#waiters.unshift(wake);
        else this.#waiters.push(wake);
      });
      woken = true;
    }
  }

  /** The reserved slot's process is held now (and counted as such). */
  filled(): void {
    this.#reserved--;
  }

  /** The reserved slot is not needed after all. */
  giveBack(): void {
    this.#reserved--;
    this.wakeOne();
  }

  /** Ends a process, counting it until it has exited. */
  async closeCounted(close: () => Promise<void>): Promise<void> {
    this.#exiting++;
    try {
      await close();
    } catch (err) {
      this.#logger.warn({ err }, 'closing an agent process failed');
    } finally {
      this.#exiting--;
      this.wakeOne();
      this.#holder.exited();
    }
  }

  /** A slot may have freed: the first waiting turn looks again. */
  wakeOne(): void {
    this.#waiters.shift()?.();
  }

  /** Shutting down: every waiting turn looks again (and finds the pool closed). */
  wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once no process is exiting and `starting()` (spares still starting) is 0. */
  async drained(starting: () => number): Promise<void> {
    // The processes still starting or exiting say when they are done (closeCounted, the shelf).
    while (starting() > 0 || this.#exiting > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

/** Why a wake started nothing: no slot is free, nor can be freed without waiting. */
function noSlotToWake(maxLive: number): TetherError {
  return new TetherError(
    ErrorCode.LIMIT_REACHED,
    `every agent process (at most ${maxLive}, TETHER_MAX_LIVE) is running or promised to a turn: nothing is started ahead of a turn now`,
  );
}
