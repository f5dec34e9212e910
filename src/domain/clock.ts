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
 * A clock that only moves when told to. Timers fire, in time order, as `advance` or `set` pass
 * their time; `now()` reads each timer's own time while it fires. `advanceAsync` lets the promise
 * work each timer starts settle before the next one fires, which is what code that awaits between
 * timers (a renewal, a poll) needs to be tested without sleeping.
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

  /** Moves time forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    this.#runUntil(this.#now + ms);
  }

  /** Moves time to `ms` (forward fires timers; backward only sets the time). */
  set(ms: number): void {
    if (ms <= this.#now) this.#now = ms;
    else this.#runUntil(ms);
  }

  /** Like `advance`, but after each timer fires, lets pending promise work run before the next. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#next(target); next; next = this.#next(target)) {
      this.#fire(next);
      await settle();
    }
    this.#now = Math.max(this.#now, target);
  }

  #runUntil(target: number): void {
    for (let next = this.#next(target); next; next = this.#next(target)) this.#fire(next);
    this.#now = Math.max(this.#now, target);
  }

  #next(target: number): Pending | undefined {
    let next: Pending | undefined;
    for (const p of this.#pending) if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.order < next.order))) next = p;
    return next;
  }

  #fire(entry: Pending): void {
    this.#pending = this.#pending.filter((p) => p !== entry);
    this.#now = Math.max(this.#now, entry.at);
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
