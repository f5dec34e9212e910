import { every, type Timer } from '../domain/clock.js';
import type { Lease, TurnRecord } from '../domain/types.js';
import type { BrokerContext } from './context.js';

/** What keeping leases needs of the broker. */
export type LeaseKeeperContext = Pick<BrokerContext, 'store' | 'clock' | 'log' | 'config'>;

/**
 * How much of the TTL may pass without a confirmed renewal before the holder gives the turn up:
 * the rest is the time its agent has to stop (INTERRUPT_GRACE_MS in the runner is 5 s of a 30 s
 * TTL) before the lease can be granted to another node.
 */
const GIVE_UP_FRACTION = 0.6;

/** How often held leases are renewed: a sixth of the TTL. */
const renewEvery = (ttlMs: number): number => Math.max(100, Math.floor(ttlMs / 6));

/** A lease this process holds for a running turn, as the keeper keeps it. */
export interface HeldLease {
  /** The lease as last renewed: what fenced writes must present. */
  readonly lease: Lease;
  /** True once the lease is known lost (taken over, or unconfirmed for too long). */
  readonly lost: boolean;
  /** Marks the lease lost from a refused fenced write. */
  markLost(): void;
  /** The turn is over: stop renewing. */
  release(): void;
}

export interface HoldCallbacks {
  /** The lease is lost: stop the turn's agent at once. */
  onLost(): void;
  /** A renewal says a stop was asked for from another process or node (`store.requestInterrupt`). */
  onInterruptRequested(): void;
}

interface Held extends HeldLease {
  lease: Lease;
  lost: boolean;
  turn: TurnRecord;
  callbacks: HoldCallbacks;
  /** Clock time the last confirmed renewal (or the grant) was asked for. */
  confirmedAt: number;
}

/**
 * Keeps the leases of the turns this process runs: every sixth of the TTL it renews them all in
 * one statement (as BullMQ's lock manager extends a worker's locks at once), so one slow write
 * does not cost a lease, and a node with many turns does not queue a renewal per turn. A turn is stopped (`onLost`, which ends its agent)
 * when the store says its lease was taken over (LEASE_LOST), and also when no renewal has been
 * confirmed for most of the TTL — the store unreachable, or this process paused — because by
 * the time the store answers again the lease may belong to another node: at most one turn of a
 * session runs anywhere.
 */
export class LeaseKeeper {
  readonly #ctx: LeaseKeeperContext;
  readonly #held = new Set<Held>();
  #timer: Timer | null = null;
  /** A renewal of the held leases is on its way to the store. */
  #renewing = false;
  /**
   * When the oldest renewal the store has not answered was asked (null: the last one was
   * answered). A renewal that failed at once (the store refusing connections) stays unanswered.
   */
  #unansweredSince: number | null = null;
  /** When the renewal timer last fired (or was started): a late tick means this process stalled. */
  #lastTickAt = 0;

  constructor(ctx: LeaseKeeperContext) {
    this.#ctx = ctx;
  }

  /** Starts keeping `lease`, granted to run `turn`. */
  hold(lease: Lease, turn: TurnRecord, callbacks: HoldCallbacks): HeldLease {
    const { clock, config } = this.#ctx;
    const held: Held = {
      lease,
      lost: false,
      turn,
      callbacks,
      // When the grant was asked for at the latest: its expiry less the TTL (store clock), unless
      // that is later than now on this one (clocks of two hosts differ a little).
      confirmedAt: Math.min(clock.now(), lease.expiresAt - config.leaseTtlMs),
      markLost: () => void (held.lost = true),
      release: () => {
        this.#held.delete(held);
        if (this.#held.size === 0) this.#stop();
      },
    };
    this.#held.add(held);
    if (this.#timer === null) {
      this.#lastTickAt = clock.now();
      this.#timer = every(clock, renewEvery(config.leaseTtlMs), () => this.#tick());
    }
    return held;
  }

  /**
   * Whether the lease is worth starting an agent on. A grant's expiry counts from when its
   * transaction read the time; on a busy store the commit can come seconds later, so the lease
   * may have little left, or have gone to another node meanwhile. One granted longer ago than a
   * renewal period is renewed now, and waited for; a fresh one (the usual case) costs nothing.
   * False when the lease is lost (`onLost` has been called).
   */
  async confirm(handle: HeldLease): Promise<boolean> {
    const held = handle as Held;
    const { clock, config, store } = this.#ctx;
    const askedAt = clock.now();
    if (held.lost || askedAt - held.confirmedAt <= renewEvery(config.leaseTtlMs)) return !held.lost;
    try {
      const [renewed] = await store.renewLeases([held.lease], config.leaseTtlMs);
      if (!renewed) {
        this.#lose(held, 'the lease was gone before its turn could start');
        return false;
      }
      const { interruptRequested: _, ...kept } = renewed;
      held.lease = kept;
      held.confirmedAt = Math.max(held.confirmedAt, askedAt);
    } catch (err) {
      // The store did not answer: the keeper's clock decides, as for any renewal.
      this.#ctx.log.warn({ err, turnId: held.turn.id }, 'could not confirm an old grant; the keeper decides');
    }
    return !held.lost;
  }

  /** Leases held now. */
  get size(): number {
    return this.#held.size;
  }

  close(): void {
    this.#held.clear();
    this.#stop();
  }

  #stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #tick(): void {
    const { clock, config } = this.#ctx;
    const now = clock.now();
    const period = renewEvery(config.leaseTtlMs);
    // A tick two periods late means this process was the one that stalled, and the answer to a
    // renewal asked before may be waiting to be read right behind this tick (timers run before
    // I/O and the SQLite hand-over in a turn of the event loop). The store gets a whole period of
    // this process's attention to answer before it is blamed.
    if (now - this.#lastTickAt > 2 * period && this.#unansweredSince !== null) this.#unansweredSince = now;
    this.#lastTickAt = now;
    // Only a store that has let a renewal go unanswered for a whole period costs the leases. When
    // this process is the one that stalled (its event loop blocked, or the host paused it), no
    // renewal was asked meanwhile: one is asked now, and its answer decides — a lease still held
    // by its token is one nobody else has taken.
    const storeStalled = this.#unansweredSince !== null && now - this.#unansweredSince >= period;
    const due: Held[] = [];
    for (const held of [...this.#held]) {
      if (held.lost) continue;
      if (storeStalled && now - held.confirmedAt > config.leaseTtlMs * GIVE_UP_FRACTION) this.#lose(held, 'lease renewal unconfirmed for most of its TTL (store unreachable?)');
      else due.push(held);
    }
    // One statement renews them all; one that hangs (a dead connection) must not pile more up.
    if (due.length > 0 && !this.#renewing) void this.#renew(due, now);
  }

  async #renew(due: Held[], askedAt: number): Promise<void> {
    this.#renewing = true;
    this.#unansweredSince ??= askedAt;
    try {
      const renewed = await this.#ctx.store.renewLeases(
        due.map((held) => held.lease),
        this.#ctx.config.leaseTtlMs,
      );
      this.#unansweredSince = null;
      due.forEach((held, i) => {
        const lease = renewed[i];
        if (!lease) return this.#lose(held, 'lease lost while the turn ran');
        const { interruptRequested, ...kept } = lease;
        held.lease = kept;
        held.confirmedAt = Math.max(held.confirmedAt, askedAt);
        if (interruptRequested && this.#held.has(held)) held.callbacks.onInterruptRequested();
      });
    } catch (err) {
      this.#ctx.log.warn({ err, leases: due.length }, 'lease renewal failed; will retry');
    } finally {
      this.#renewing = false;
    }
  }

  #lose(held: Held, why: string): void {
    if (held.lost || !this.#held.has(held)) return;
    held.lost = true;
    this.#ctx.log.warn({ turnId: held.turn.id, key: held.turn.key }, `${why}; stopping the agent`);
    held.callbacks.onLost();
  }
}
