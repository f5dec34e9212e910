import type { Logger } from 'pino';
import { failedTurnEvent, type SessionEvent, type TetherEvent } from '../domain/events.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode } from '../errors.js';
import type { Store } from '../store/store.js';
import type { GcResult } from './api.js';
import { killMarked } from '../lib/reaper.js';
import { OWNER_MARKER, type OwnerId } from './owner.js';
import type { RunnerPool } from './runners/pool.js';

/** Sessions swept per statement: bounded work per transaction, so writers never wait long. */
const BATCH = 500;

export interface JanitorDeps {
  store: Store;
  owner: OwnerId;
  logger: Logger;
  maxSessions: number;
  pool: RunnerPool;
  /** Adopt the queued turns of dead processes (and run them through `onAdopted`). */
  adoptOrphans: boolean;
  onAdopted(turns: TurnRecord[]): void;
  emit(event: TetherEvent): void;
}

/**
 * The sweeps that keep the store honest: turns and leases of dead processes, idle sessions past
 * their TTL, live sessions over the cap. Runs at start-up, on an interval, and on demand (`gc`).
 */
export class Janitor {
  readonly #deps: JanitorDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<GcResult> | null = null;

  constructor(deps: JanitorDeps) {
    this.#deps = deps;
  }

  start(intervalSec: number): void {
    if (intervalSec <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.run().catch((err: unknown) => this.#deps.logger.warn({ err }, 'janitor sweep failed'));
    }, intervalSec * 1000);
    // The janitor alone must not keep a CLI process alive.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One pass of every sweep; concurrent calls share the pass in progress. */
  run(): Promise<GcResult> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<GcResult> {
    const { store, owner } = this.#deps;
    // The store sweeps run on one node at a time; local processes are this node's own business.
    const swept = (await store.runExclusive('janitor', () => this.#sweepStore())) ?? { recovered: 0, adopted: 0, expired: 0, evicted: 0 };
    const hibernated = this.#deps.pool.sweep();
    // Agents and tools of a broker that died (its agents die with it on Linux; tools may not).
    const reaped = killMarked(OWNER_MARKER, (id) => !owner.isAlive(id));
    const { recovered, adopted, expired, evicted } = swept;
    if (recovered + adopted + expired + evicted + hibernated + reaped > 0) {
      this.#deps.logger.info({ recovered, adopted, expired, evicted, hibernated, reaped }, 'janitor pass');
    }
    return { expired, evicted, recovered, adopted, hibernated, reaped };
  }

  async #sweepStore(): Promise<{ recovered: number; adopted: number; expired: number; evicted: number }> {
    const { store, owner } = this.#deps;
    // A process on this host is checked directly; one on another host by its heartbeat.
    const live = new Set(await store.liveOwners());
    const recovered = await store.recover({
      isOwnerAlive: (id) => owner.isAlive(id) && (owner.isLocal(id) || live.has(id)),
      error: { code: ErrorCode.INTERRUPTED, message: 'the Tether process running this turn stopped before it finished' },
      ...(this.#deps.adoptOrphans ? { adoptQueuedAs: owner.id } : {}),
    });
    if (recovered.adopted.length > 0) this.#deps.onAdopted(recovered.adopted);
    // Whoever follows those turns (here, or on another node through the shared journal) learns the end.
    for (const turn of recovered.interrupted) this.#deps.emit(failedTurnEvent(turn));
    let expired = 0;
    for (;;) {
      const batch = await store.sweepExpired(BATCH);
      for (const session of batch) this.#emit('session.expired', session);
      expired += batch.length;
      if (batch.length < BATCH) break;
    }
    let evicted = 0;
    for (;;) {
      const batch = await store.enforceCap(this.#deps.maxSessions, BATCH);
      for (const session of batch) this.#emit('session.evicted', session);
      evicted += batch.length;
      if (batch.length < BATCH) break;
    }
    return { recovered: recovered.interrupted.length, adopted: recovered.adopted.length, expired, evicted };
  }

  #emit(type: SessionEvent['type'], session: SessionRecord): void {
    this.#deps.emit({ type, tenant: session.tenant, key: session.key, sessionId: session.id, generation: session.generation, at: new Date().toISOString() });
  }
}
