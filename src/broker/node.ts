import { every, type Timer } from '../domain/clock.js';
import { BACKENDS } from '../domain/types.js';
import type { GcResult, Readiness } from './api.js';
import { backendOf, type BrokerContext } from './context.js';
import type { TurnsInFlight } from './in-flight.js';
import type { Janitor } from './janitor.js';

type NodeContext = Pick<BrokerContext, 'store' | 'clock' | 'log' | 'config' | 'owner' | 'usageGates' | 'pool' | 'leases' | 'turnEvents' | 'backends' | 'agentEnv'>;

/**
 * This broker process as a node among those sharing the store: it heartbeats (other nodes tell
 * it is alive by that, since a pid check only works on one host), reads the usage limit other
 * nodes ran into, reports readiness, and shuts down without leaving a process or a turn behind.
 */
export class BrokerNode {
  readonly #ctx: NodeContext;
  readonly #inFlight: TurnsInFlight;
  readonly #janitor: Janitor;
  #heartbeat: Timer | null = null;
  #closing = false;
  #closed: Promise<void> | null = null;
  #startup: GcResult | null = null;

  constructor(ctx: NodeContext, inFlight: TurnsInFlight, janitor: Janitor) {
    this.#ctx = ctx;
    this.#inFlight = inFlight;
    this.#janitor = janitor;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Heartbeats, tails the other nodes' events, takes over what a stopped process left, starts the janitor. */
  async start(): Promise<void> {
    const { config, clock, log } = this.#ctx;
    await this.#beat();
    this.#heartbeat = every(clock, Math.max(250, Math.floor(config.leaseTtlMs / 3)), () => void this.#beat(), { unref: true });
    await this.#ctx.turnEvents.start();
    const result = await this.#janitor.run();
    this.#startup = result;
    if (result.recovered + result.adopted > 0) log.info({ recovered: result.recovered, adopted: result.adopted }, 'took over what a stopped process left');
    this.#janitor.start(config.janitorIntervalSec);
    this.#ctx.pool.start();
  }

  /** What the janitor's pass at start-up did (null before start): `tether gc` reports it too. */
  get startupSweep(): GcResult | null {
    return this.#startup;
  }

  async readiness(): Promise<Readiness> {
    const store: Readiness['store'] = { ok: true, kind: this.#ctx.store.kind };
    try {
      await this.#ctx.store.now();
    } catch (err) {
      store.ok = false;
      store.error = err instanceof Error ? err.message : String(err);
    }
    const agent: Readiness['agent'] = { ok: true };
    try {
      // The agent of new sessions: without its binary or credentials every new turn is refused,
      // and a node in that state is not ready for turns.
      const backend = backendOf(this.#ctx, this.#ctx.config.defaultBackend);
      backend.locate();
      backend.checkCredentials?.(this.#ctx.agentEnv);
    } catch (err) {
      agent.ok = false;
      agent.error = err instanceof Error ? err.message : String(err);
    }
    return { ready: store.ok && agent.ok && !this.#closing, store, agent };
  }

  /** Waits for running turns (interrupting them after `graceMs`), ends every agent process, closes the store. */
  close(graceMs: number): Promise<void> {
    this.#closed ??= this.#shutdown(graceMs);
    return this.#closed;
  }

  /** Heartbeats last a lease TTL: a node silent that long is as gone as its leases. */
  async #beat(ttlMs = this.#ctx.config.leaseTtlMs): Promise<void> {
    const { store, owner, usageGates, log } = this.#ctx;
    try {
      await store.heartbeat(owner.id, ttlMs);
      // A usage limit another node ran into holds this node's turns back too.
      for (const backend of ttlMs > 0 ? BACKENDS : []) {
        const limit = await store.getUsageLimit(backend);
        if (limit && usageGates.of(backend).close(limit.until, limit.reason)) {
          log.warn({ backend, until: new Date(limit.until).toISOString() }, 'usage limit reached (seen by another node); turns wait until it resets');
        }
      }
    } catch (err) {
      log.warn({ err }, 'heartbeat failed');
    }
  }

  async #shutdown(graceMs: number): Promise<void> {
    const { clock, log, pool, owner, leases, turnEvents, store } = this.#ctx;
    this.#closing = true;
    this.#janitor.stop();
    this.#heartbeat?.cancel();
    if (!(await this.#inFlight.drain(clock, graceMs))) {
      log.warn('grace period over; interrupting running turns');
      await this.#inFlight.interruptAll();
    }
    // Every agent process ends before the store closes: nothing outlives Tether.
    await pool.close();
    leases.close();
    owner.release();
    await turnEvents.close();
    await this.#beat(0);
    await store.close();
  }
}
