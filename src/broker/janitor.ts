import { every, type Timer } from '../domain/clock.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode } from '../errors.js';
import { killMarked } from '../lib/reaper.js';
import type { GcResult } from './api.js';
import type { BrokerContext } from './context.js';
import { approvalEvent } from './approvals.js';
import { OWNER_MARKER } from './owner.js';

/** Sessions swept per statement: bounded work per transaction, so writers never wait long. */
const BATCH = 500;

export type JanitorContext = Pick<BrokerContext, 'store' | 'owner' | 'log' | 'config' | 'pool' | 'emitter' | 'clock' | 'approvals'>;

/**
 * The sweeps that keep the store honest: turns and leases of dead processes, idle sessions past
 * their TTL, live sessions over the cap. Runs at start-up, on an interval, and on demand (`gc`).
 */
export class Janitor {
  readonly #ctx: JanitorContext;
  /** Runs the queued turns of dead processes here (`orphanedTurns: rerun`); absent: they are interrupted. */
  readonly #adopt: ((turns: TurnRecord[]) => void) | null;
  #timer: Timer | null = null;
  #running: Promise<GcResult> | null = null;

  constructor(ctx: JanitorContext, adopt: ((turns: TurnRecord[]) => void) | null) {
    this.#ctx = ctx;
    this.#adopt = adopt;
  }

  start(intervalSec: number): void {
    if (intervalSec <= 0 || this.#timer) return;
    // The janitor alone must not keep a CLI process alive.
    this.#timer = every(this.#ctx.clock, intervalSec * 1000, () => {
      this.run().catch((err: unknown) => this.#ctx.log.warn({ err }, 'janitor sweep failed'));
    }, { unref: true });
  }

  stop(): void {
    this.#timer?.cancel();
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
    const { store, owner } = this.#ctx;
    // The store sweeps run on one node at a time; local processes are this node's own business.
    const swept = (await store.runExclusive('janitor', () => this.#sweepStore())) ?? { recovered: 0, adopted: 0, expired: 0, evicted: 0 };
    const hibernated = this.#ctx.pool.sweep();
    // Agents and tools of a broker that died (its agents die with it on Linux; tools may not).
    const reaped = killMarked(OWNER_MARKER, (id) => !owner.isAlive(id));
    const { recovered, adopted, expired, evicted } = swept;
    if (recovered + adopted + expired + evicted + hibernated + reaped > 0) {
      this.#ctx.log.info({ recovered, adopted, expired, evicted, hibernated, reaped }, 'janitor pass');
    }
    return { expired, evicted, recovered, adopted, hibernated, reaped };
  }

  async #sweepStore(): Promise<{ recovered: number; adopted: number; expired: number; evicted: number }> {
    const { store, owner, emitter } = this.#ctx;
    // A process on this host is checked directly; one on another host by its heartbeat.
    const live = new Set(await store.liveOwners());
    const recovered = await store.recover({
      isOwnerAlive: (id) => owner.isAlive(id) && (owner.isLocal(id) || live.has(id)),
      error: { code: ErrorCode.INTERRUPTED, message: 'the Tether process running this turn stopped before it finished' },
      ...(this.#adopt ? { adoptQueuedAs: owner.id } : {}),
    });
    if (recovered.adopted.length > 0) this.#adopt?.(recovered.adopted);
    // Whoever follows those turns (here, or on another node through the shared journal) learns the end.
    // The approvals it still waited on ended with it (the store withdrew them); announced first.
    const at = emitter.now();
    for (const turn of recovered.interrupted) {
      const withdrawn = recovered.withdrawn.filter((a) => a.turnId === turn.id).map((a) => approvalEvent('approval.decided', a, at));
      await emitter.endedElsewhere(turn, withdrawn);
    }
    await this.#ctx.approvals.expireDue();
    const expired = await this.#drain(() => store.sweepExpired(BATCH));
    const evicted = await this.#drain(() => store.enforceCap(this.#ctx.config.maxSessions, BATCH));
    return { recovered: recovered.interrupted.length, adopted: recovered.adopted.length, expired, evicted };
  }

  /** Runs a sweep in batches until one comes back short, announcing each closed session. */
  async #drain(sweep: () => Promise<SessionRecord[]>): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await sweep();
      for (const session of batch) this.#ctx.emitter.closed(session);
      total += batch.length;
      if (batch.length < BATCH) return total;
    }
  }
}
