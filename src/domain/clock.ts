/**
 * Time, injected: what TTLs, leases, wake-ups, the usage gate, the janitor and heartbeats read
 * and wait on. Production runs on `systemClock`; tests move a `ManualClock` instead of sleeping,
 * so a lease that expires after 30 s is tested in microseconds, and never flakes on a busy CPU.
 *
 * This is the one module that touches the process's timers and `Date.now` (an ESLint rule
 * keeps it so; see eslint.config.js for the reasoned exceptions).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `fn` once, `ms` from now. `unref`: a background timer (janitor, heartbeat) that must
   * not keep a process alive by itself; a timer something waits on keeps the default.
   */
  timeout(ms: number, fn: () => void, options?: { unref?: boolean }): Timer;
}

export interface Timer {
  /** Stops the timer if it has not fired. Idempotent. */
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  timeout(ms, fn, options) {
    const handle = setTimeout(fn, Math.max(0, ms));
    if (options?.unref) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** The clock's time as an ISO string: every event's `at`. */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts (never rejects). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal, options?: { unref?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.timeout(ms, done, options);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `fn` every `ms` until cancelled. The next call is scheduled when one is made, so a clock
 * that jumps far ahead (a paused process, a test) runs the missed calls one per period, not all at
 * once and not never.
 */
export function every(clock: Clock, ms: number, fn: () => void, options?: { unref?: boolean }): Timer {
  let cancelled = false;
  let timer: Timer;
  const tick = (): void => {
    if (cancelled) return;
    timer = clock.timeout(ms, tick, options);
    fn();
  };
  timer = clock.timeout(ms, tick, options);
  return {
    cancel() {
      cancelled = true;
      timer.cancel();
    },
  };
}

interface Pending {
  at: number;
  order: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. Two ways to move it:
 * - `advance(ms)` / `set(ms)` jump, as a paused process or a long wait would: the time is the
 *   target at once, and every timer due by then fires (in time order, all seeing the target), so
 *   an `every` timer fires once, not once per missed period;
 * - `advanceAsync(ms)` steps from one timer to the next, each seeing its own time, and lets the
 *   promise work a timer starts settle before the next fires: code that awaits between timers
 *   (a renewal, a poll) runs as it would in real time, without sleeping.
 */
export class ManualClock implements Clock {
  #now: number;
  #pending: Pending[] = [];
  #order = 0;

  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  timeout(ms: number, fn: () => void): Timer {
    const entry: Pending = { at: this.#now + Math.max(0, ms), order: this.#order++, fn };
    this.#pending.push(entry);
    return { cancel: () => void (this.#pending = this.#pending.filter((p) => p !== entry)) };
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#pending.length;
  }

  /** Jumps forward by `ms`, then fires every timer due. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  /** Jumps to `ms` (forward fires the timers due; backward only sets the time). */
  set(ms: number): void {
    this.#now = ms;
    for (let next = this.#next(ms); next; next = this.#next(ms)) this.#fire(next);
  }

  /** Steps forward by `ms` through each timer's time, letting pending promise work run after each. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#next(target); next; next = this.#next(target)) {
      this.#now = Math.max(this.#now, next.at);
      this.#fire(next);
      await settle();
    }
    this.#now = Math.max(this.#now, target);
  }

  #next(target: number): Pending | undefined {
    let next: Pending | undefined;
    for (const p of this.#pending) if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.order < next.order))) next = p;
    return next;
  }

  #fire(entry: Pending): void {
    this.#pending = this.#pending.filter((p) => p !== entry);
    entry.fn();
  }
}

/**
 * Lets every promise chain that can progress without I/O progress. A macrotask (not a sleep: no
 * time passes on any clock) runs after all queued microtasks, including those they queue.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
