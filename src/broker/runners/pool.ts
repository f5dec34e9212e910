import type { AgentBackend, Runner, RunnerSettings, RunnerSpec } from '../../agents/agent.js';
import type { SessionRecord } from '../../domain/types.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { SpareShelf } from './spares.js';
import type { LentRunner, PoolWake, RunnerPoolOptions, RunnerPoolStats } from './types.js';
import { Slots } from './slots.js';
import { PIN_MS, earliestPinLapse, leastRecentlyUsedIdle, settingsOf, type Warm } from './warm-entry.js';

export type { LentRunner, PoolWake, RunnerPoolOptions, RunnerPoolStats } from './types.js';

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
 * - A session's process may be started ahead of its next turn (`wake`) and ended early (`hibernate`).
 * - A session's model or permission mode may have changed since its runner's last turn (through
 *   any node: the session is read under the lease). The fresh runner is then switched in place
 *   before the turn, or replaced by a cold resume when it cannot be.
 */
export class RunnerPool {
  readonly #o: RunnerPoolOptions;
  readonly #warm = new Map<string, Warm>();
  readonly #spares: SpareShelf;
  readonly #slots: Slots;
  #closed = false;

  constructor(options: RunnerPoolOptions) {
    this.#o = options;
    this.#slots = new Slots({
      maxLive: options.maxLive,
      clock: options.clock,
      logger: options.logger,
      holder: {
        held: () => this.#warm.size + this.#spares.size,
        freeOne: () => this.#freeOne(),
        pinLapse: () => earliestPinLapse(this.#warm.values(), this.#o.clock.now()),
        closed: () => this.#closed,
        exited: () => this.#replenish(),
      },
    });
    this.#spares = new SpareShelf({
      backend: options.spareBackend,
      target: options.spares,
      env: options.env,
      clock: options.clock,
      logger: options.logger,
      onChange: () => {
        this.#slots.wakeOne();
        this.#replenish();
      },
      retire: (close) => void this.#slots.closeCounted(close),
    });
  }

  get stats(): RunnerPoolStats {
    let busy = 0;
    for (const w of this.#warm.values()) if (w.busy) busy++;
    return { live: this.#slots.live, busy, idle: this.#warm.size - busy, spares: this.#spares.parked, waiting: this.#slots.waiting, maxLive: this.#o.maxLive };
  }

  /** Whether a live agent process of this pool serves the session (warm, or running its turn). */
  holds(sessionId: string): boolean {
    return this.#warm.get(sessionId)?.runner.alive === true;
  }

  /** Pid of the session's agent process here, if one runs. */
  pidOf(sessionId: string): number | null {
    return this.#warm.get(sessionId)?.runner.pid ?? null;
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
    let existing = this.#warm.get(session.id);
    // A wake is starting this session's process: the turn takes it once it is up (bounded by the
    // runner's start timeout) rather than start a second process beside it.
    if (existing?.warming) existing = await this.#settled(session.id);
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
    await this.#slots.reserve(signal);
    let runner: Runner | null = null;
    let source: LentRunner['source'] = 'cold';
    try {
      const backend = this.#backendOf(session);
      if (spec.resume === null && backend === this.#o.spareBackend) {
        const spare = this.#spares.take();
        if (spare) {
          runner = spare.claim(spec);
          if (runner) source = 'spare';
          else void this.#slots.closeCounted(() => spare.close());
        }
      }
      runner ??= backend.open(spec);
    } finally {
      this.#slots.filled();
    }
    return this.#lend(this.#register(session, runner, -1), source);
  }

  /**
   * Starts the agent process of `session` ahead of its next turn, registered as having run the
   * turn of lease `epoch` (the last granted): the turn of `epoch + 1` takes it warm, and a turn
   * run elsewhere meanwhile makes it stale, as any runner. It takes a slot as a turn would (a
   * free one, else the least recently used idle runner hibernates or a spare is given up) but
   * never waits behind busy processes nor ahead of waiting turns: then LIMIT_REACHED. `cold`:
   * the backend's runners start their process only with a turn, so nothing was started.
   */
  async wake(session: SessionRecord, epoch: number, spec: RunnerSpec): Promise<PoolWake> {
    if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
    const existing = await this.#settled(session.id);
    if (existing?.busy) return { status: 'busy', pid: existing.runner.pid };
    if (existing?.runner.alive && existing.epoch >= epoch) return { status: 'awake', pid: existing.runner.pid };
    // Opening starts no process, so a runner that cannot warm has nothing to end.
    const runner = this.#backendOf(session).open(spec);
    if (!runner.warm) return { status: 'cold', pid: null };
    // Stale (a turn ran elsewhere since) or dead.
    if (existing) this.#retire(existing);
    await this.#slots.reserve(new AbortController().signal, true).catch((err: unknown) => {
      void runner.close();
      throw err;
    });
    // A turn (or another wake) registered a runner while this one waited for its slot.
    const taken = this.#warm.get(session.id);
    if (taken) {
      void runner.close();
      this.#slots.giveBack();
      return { status: taken.busy ? 'busy' : 'awake', pid: taken.runner.pid };
    }
    this.#slots.filled();
    const entry = this.#register(session, runner, epoch);
    entry.warming = runner.warm().then(() => null, (err: unknown) => err ?? new Error('unknown'));
    const failed = await entry.warming;
    entry.warming = null;
    if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down');
    // Displaced by a turn that started meanwhile (which retired it): that turn is the session's now.
    if (this.#warm.get(session.id) !== entry) return { status: 'busy', pid: this.pidOf(session.id) };
    if (failed !== null || !runner.alive) {
      this.#retire(entry);
      const reason = failed instanceof Error ? failed.message : 'the process exited as it started';
      throw new TetherError(ErrorCode.AGENT_FAILED, `the agent process could not be started: ${reason}`);
    }
    entry.busy = false;
    entry.lastUsed = this.#o.clock.now();
    this.#slots.wakeOne();
    return { status: 'woken', pid: runner.pid };
  }

  /**
   * Ends the session's idle runner now, as the idle sweep would, once its process has exited.
   * False when there is none here or it is running a turn (never ended); one a wake is starting
   * is ended once it is up.
   */
  async hibernate(sessionId: string): Promise<boolean> {
    const entry = await this.#settled(sessionId);
    if (!entry || entry.busy) return false;
    const alive = entry.runner.alive;
    this.#warm.delete(sessionId);
    await this.#slots.closeCounted(() => entry.runner.close());
    return alive;
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
    this.#slots.wakeAll();
    const closing = [...this.#warm.values()].map((w) => w.runner.close());
    this.#warm.clear();
    closing.push(...this.#spares.close());
    await Promise.all(closing);
    await this.#slots.drained(() => this.#spares.starting);
  }

  #backendOf(session: SessionRecord): AgentBackend {
    const backend = this.#o.backends[session.backend];
    if (!backend) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `no ${session.backend} backend is configured`);
    return backend;
  }

  /** Enters a new runner of `session`, busy: its turn's, or a wake's. */
  #register(session: SessionRecord, runner: Runner, epoch: number): Warm {
    // A wake that began after this turn looked (so it took no runner from it) is ended: its
    // process would otherwise outlive its entry here, uncounted.
    const displaced = this.#warm.get(session.id);
    if (displaced?.warming) this.#retire(displaced);
    const entry: Warm = { sessionId: session.id, runner, epoch, agentSessionId: session.agentSessionId, busy: true, lastUsed: this.#o.clock.now(), pinnedUntil: 0, warming: null };
    this.#warm.set(session.id, entry);
    return entry;
  }

  /** The session's runner once no wake is starting it. */
  async #settled(sessionId: string): Promise<Warm | undefined> {
    for (let warming = this.#warm.get(sessionId)?.warming; warming; warming = this.#warm.get(sessionId)?.warming) await warming;
    return this.#warm.get(sessionId);
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
        this.#slots.wakeOne();
      },
    };
  }

  /** Frees a slot at the cap: the least recently used idle runner hibernates, else a spare is given up. */
  #freeOne(): boolean {
    const lru = leastRecentlyUsedIdle(this.#warm.values(), this.#o.clock.now());
    if (lru) {
      this.#retire(lru);
      return true;
    }
    const spare = this.#spares.take();
    if (spare) void this.#slots.closeCounted(() => spare.close());
    return spare !== undefined;
  }

  /** Takes a runner out of the pool and ends its process; its slot frees once it has exited. */
  #retire(entry: Warm): void {
    if (this.#warm.get(entry.sessionId) === entry) this.#warm.delete(entry.sessionId);
    void this.#slots.closeCounted(() => entry.runner.close());
  }

  /** Parks spares up to the target while there is room under the cap and nobody waits. */
  #replenish(): void {
    if (this.#closed) return;
    this.#spares.fill(() => this.#slots.spareRoom);
  }
}
