import type { Runner, RunnerSettings, RunnerSpec } from '../../agents/agent.js';
import type { SessionConfig, SessionRecord } from '../../domain/types.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { SpareShelf } from './spares.js';
import type { LentRunner, RunnerPoolOptions, RunnerPoolStats } from './types.js';

export type { LentRunner, RunnerPoolOptions, RunnerPoolStats } from './types.js';

interface Warm {
  sessionId: string;
  runner: Runner;
  /** Lease epoch of the last turn this runner ran; -1 before its first. */
  epoch: number;
  agentSessionId: string | null;
  busy: boolean;
  lastUsed: number;
  /** Until then (clock time), eviction passes this idle runner by: its session's next turn is about to take it. */
  pinnedUntil: number;
}

/**
 * How long a released runner is kept for its session's waiting turn. That turn takes the lease
 * and the runner within milliseconds; without the pin, a turn of another session waiting for a
 * slot would evict the runner first, and under load every turn would start cold.
 */
const PIN_MS = 2_000;

/**
 * Warm agent processes for active sessions, within a budget.
 *
 * - A session's next turn goes straight into its warm runner, if that runner is fresh: it ran
 *   the turn with the previous lease epoch. The epoch rises exactly once per turn started, on
 *   any node, so a runner that missed a turn (run elsewhere, or a reset, fork or import) is
 *   stale and replaced by a cold resume.
 * - At most `maxLive` processes exist at once. When a turn needs a process at the cap, the least
 *   recently used idle runner hibernates (its process ends; its session resumes cold later),
 *   then a spare is given up; if every process is busy the turn waits, first come first served.
 * - New sessions start on a parked spare when one fits; the rest start cold.
 * - A session's model or permission mode may have changed since its runner's last turn (through
 *   any node: the session is read under the lease). The fresh runner is then switched in place
 *   before the turn, or replaced by a cold resume when it cannot be.
 */
export class RunnerPool {
  readonly #o: RunnerPoolOptions;
  readonly #warm = new Map<string, Warm>();
  readonly #spares: SpareShelf;
  /** Slots promised to turns that are opening their runner. */
  #reserved = 0;
  /** Processes asked to end that have not exited yet: they still count against the cap. */
  #exiting = 0;
  #waiters: Array<() => void> = [];
  #closed = false;

  constructor(options: RunnerPoolOptions) {
    this.#o = options;
    this.#spares = new SpareShelf({
      backend: options.spareBackend,
      target: options.spares,
      env: options.env,
      clock: options.clock,
      logger: options.logger,
      onChange: () => {
        this.#wakeOne();
        this.#replenish();
      },
      retire: (close) => void this.#closeCounted(close),
    });
  }

  get stats(): RunnerPoolStats {
    let busy = 0;
    for (const w of this.#warm.values()) if (w.busy) busy++;
    return { live: this.#live(), busy, idle: this.#warm.size - busy, spares: this.#spares.parked, waiting: this.#waiters.length, maxLive: this.#o.maxLive };
  }

  /** Pids of every agent process the pool holds (for reaping and for tests). */
  pids(): number[] {
    const pids = [...this.#warm.values()].map((w) => w.runner.pid).filter((pid): pid is number => pid !== null);
    return [...pids, ...this.#spares.pids()];
  }

  /** Starts parking spares, if configured. */
  start(): void {
    this.#replenish();
  }

  /**
   * A runner for the turn holding lease `epoch` of `session`: its warm one when fresh, else a new
   * one (a spare for a new conversation, else cold), waiting for a slot at the cap.
   */
  async acquire(session: SessionRecord, epoch: number, spec: RunnerSpec, signal: AbortSignal): Promise<LentRunner> {
    if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
    const existing = this.#warm.get(session.id);
    if (existing && !existing.busy) {
      if (existing.runner.alive && existing.epoch === epoch - 1 && existing.agentSessionId === session.agentSessionId) {
        existing.busy = true;
        if (await this.#switchTo(existing, settingsOf(session.config))) return this.#lend(existing, 'warm');
        existing.busy = false;
        if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
      }
      // Stale (a turn ran elsewhere), dead, or unable to take the session's new settings: this
      // process must not serve the conversation.
      this.#retire(existing);
    }
    await this.#reserveSlot(signal);
    let runner: Runner | null = null;
    let source: LentRunner['source'] = 'cold';
    try {
      const backend = this.#o.backends[session.backend];
      if (!backend) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `no ${session.backend} backend is configured`);
      if (spec.resume === null && backend === this.#o.spareBackend) {
        const spare = this.#spares.take();
        if (spare) {
          runner = spare.claim(spec);
          if (runner) source = 'spare';
          else void this.#closeCounted(() => spare.close());
        }
      }
      runner ??= backend.open(spec);
    } finally {
      this.#reserved--;
    }
    const entry: Warm = {
      sessionId: session.id,
      runner,
      epoch: -1,
      agentSessionId: session.agentSessionId,
      busy: true,
      lastUsed: this.#o.clock.now(),
      pinnedUntil: 0,
    };
    this.#warm.set(session.id, entry);
    return this.#lend(entry, source);
  }

  /** Hibernates idle runners past their idle time and drops dead ones. Returns how many ended. */
  sweep(): number {
    const cutoff = this.#o.clock.now() - this.#o.idleMs;
    let ended = 0;
    for (const w of [...this.#warm.values()]) {
      if (!w.busy && (w.lastUsed <= cutoff || !w.runner.alive)) {
        this.#retire(w);
        ended++;
      }
    }
    this.#spares.prune();
    this.#replenish();
    return ended;
  }

  /** Ends every process; turns still waiting for a slot fail. Resolves once all have exited. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    const closing = [...this.#warm.values()].map((w) => w.runner.close());
    this.#warm.clear();
    closing.push(...this.#spares.close());
    await Promise.all(closing);
    // The processes still starting or exiting say when they are done (#closeCounted, the shelf).
    while (this.#spares.starting > 0 || this.#exiting > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #live(): number {
    return this.#warm.size + this.#spares.size + this.#reserved + this.#exiting;
  }

  /** Whether the entry's process runs with `wanted`, switching it in place if need be. */
  async #switchTo(entry: Warm, wanted: RunnerSettings): Promise<boolean> {
    const { runner } = entry;
    if (runner.settings.model === wanted.model && runner.settings.permissionMode === wanted.permissionMode) return true;
    if (!runner.reconfigure) return false;
    const switched = await runner.reconfigure(wanted).catch((err: unknown) => {
      this.#o.logger.warn({ err }, 'switching an agent process to new settings failed');
      return false;
    });
    // Closed meanwhile: close() has ended the process already.
    return switched && !this.#closed && this.#warm.get(entry.sessionId) === entry;
  }

  #lend(entry: Warm, source: LentRunner['source']): LentRunner {
    let released = false;
    return {
      runner: entry.runner,
      source,
      release: ({ ok, epoch, agentSessionId, queued = 0 }) => {
        if (released) return;
        released = true;
        entry.busy = false;
        // A claimed spare is replaced only now: parking the next one while the claimed one runs
        // its first turn would slow exactly the turn the spare was for.
        if (source === 'spare') queueMicrotask(() => this.#replenish());
        if (!ok || !entry.runner.alive || this.#closed || this.#warm.get(entry.sessionId) !== entry) {
          this.#retire(entry);
          return;
        }
        entry.epoch = epoch;
        entry.agentSessionId = agentSessionId;
        entry.lastUsed = this.#o.clock.now();
        entry.pinnedUntil = queued > 0 ? this.#o.clock.now() + PIN_MS : 0;
        this.#wakeOne();
      },
    };
  }

  async #reserveSlot(signal: AbortSignal): Promise<void> {
    // First come, first served: a newcomer queues behind turns already waiting, and a waiter
    // woken without getting a slot keeps its place at the head.
    let woken = false;
    for (;;) {
      if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
      if (signal.aborted) throw new TetherError(ErrorCode.INTERRUPTED, 'the turn was interrupted while waiting for an agent slot');
      if (this.#live() < this.#o.maxLive && (woken || this.#waiters.length === 0)) {
        this.#reserved++;
        return;
      }
      // Each waiting turn frees at most one process: slots already on their way (processes
      // exiting) are spoken for by the turns that wait before this one.
      if (this.#exiting <= this.#waiters.length) {
        const lru = this.#leastRecentlyUsedIdle();
        const spare = lru ? undefined : this.#spares.take();
        if (lru) this.#retire(lru);
        else if (spare) void this.#closeCounted(() => spare.close());
      }
      // Wait for a process to exit or be released, or for the earliest pin to lapse (its turn
      // may have been withdrawn, and nothing else would wake us then).
      const pinLapse = this.#earliestPinLapse();
      await new Promise<void>((resolve) => {
        const timer = pinLapse === null ? null : this.#o.clock.timeout(pinLapse, () => wake());
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

  #leastRecentlyUsedIdle(): Warm | null {
    const now = this.#o.clock.now();
    let lru: Warm | null = null;
    for (const w of this.#warm.values()) {
      if (!w.busy && w.pinnedUntil <= now && (!lru || w.lastUsed < lru.lastUsed)) lru = w;
    }
    return lru;
  }

  /** Milliseconds until the first pinned idle runner becomes evictable, or null if none is pinned. */
  #earliestPinLapse(): number | null {
    const now = this.#o.clock.now();
    let earliest: number | null = null;
    for (const w of this.#warm.values()) {
      if (!w.busy && w.pinnedUntil > now) earliest = Math.min(earliest ?? Infinity, w.pinnedUntil - now);
    }
    return earliest === null ? null : Math.ceil(earliest) + 1;
  }

  /** Takes a runner out of the pool and ends its process; its slot frees once it has exited. */
  #retire(entry: Warm): void {
    if (this.#warm.get(entry.sessionId) === entry) this.#warm.delete(entry.sessionId);
    void this.#closeCounted(() => entry.runner.close());
  }

  async #closeCounted(close: () => Promise<void>): Promise<void> {
    this.#exiting++;
    try {
      await close();
    } catch (err) {
      this.#o.logger.warn({ err }, 'closing an agent process failed');
    } finally {
      this.#exiting--;
      this.#wakeOne();
      this.#replenish();
    }
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }

  /** Parks spares up to the target while there is room under the cap and nobody waits. */
  #replenish(): void {
    if (this.#closed) return;
    this.#spares.fill(() => this.#live() < this.#o.maxLive && this.#waiters.length === 0);
  }
}

function settingsOf(config: SessionConfig): RunnerSettings {
  return { model: config.model ?? null, permissionMode: config.permissionMode ?? null };
}
