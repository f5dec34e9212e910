/**
 * What every file of the shared behaviour suite gets: the store under test (a fresh one per
 * test), its ManualClock, and the helpers that run turns through it. See ../store-behaviour.ts.
 */
import { ManualClock } from '../../../src/domain/clock.js';
import type { Lease, Usage } from '../../../src/domain/types.js';
import type { AcquireLeaseResult, EnqueueTurnInput, EnqueueTurnResult, FinishTurnInput, Store } from '../../../src/store/store.js';
import { enqueueInput } from '../fixtures.js';

export interface StoreHarness {
  store: Store;
  /** Closes the store and opens it again on the same data; absent for adapters without durable data. */
  reopen?: () => Promise<Store>;
  /** Closes whatever is open (it may already be closed) and removes the data. */
  cleanup: () => Promise<void>;
}

export const OWNER = 'host-a:100:n1';
export const OTHER_OWNER = 'host-b:200:n2';
export const TTL = 30_000;
export const INTERRUPTED = { code: 'INTERRUPTED', message: 'the broker restarted' };

export function usage(input: number, output: number, costUsd: number): Usage {
  return { inputTokens: input, outputTokens: output, cacheReadTokens: input * 2, cacheWriteTokens: 1, costUsd };
}

export function acquired(result: AcquireLeaseResult): Extract<AcquireLeaseResult, { status: 'acquired' }> {
  if (result.status !== 'acquired') throw new Error(`expected the lease to be acquired, got ${result.status}`);
  return result;
}

/**
 * What a file of the suite works with: `store`, which always stands for the running test's store
 * (a fresh one per test, or the one `reopen` gave), `clock`, reset before each test, and helpers
 * that run turns through it.
 */
export class Suite {
  readonly clock = new ManualClock();
  #harness: StoreHarness | undefined;
  #current: Store | undefined;

  /** The running test's store: every call goes to the store open now. */
  readonly store: Store = new Proxy({} as Store, {
    get: (_, name) => {
      const store = this.#open();
      const value = Reflect.get(store, name, store) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(store) : value;
    },
  });

  get harness(): StoreHarness {
    if (!this.#harness) throw new Error('no store is open: the suite opens one before each test');
    return this.#harness;
  }

  /** Opens the store of the next test. */
  async open(open: (clock: ManualClock) => Promise<StoreHarness>): Promise<void> {
    this.clock.set(new ManualClock().now());
    this.#harness = await open(this.clock);
    this.#current = this.#harness.store;
  }

  /** Closes the store and opens it again on the same data (the harness must have `reopen`). */
  async reopen(): Promise<void> {
    this.#current = await this.harness.reopen!();
  }

  #open(): Store {
    if (!this.#current) throw new Error('no store is open: the suite opens one before each test');
    return this.#current;
  }

  readonly enqueue = (over: Partial<EnqueueTurnInput> = {}): Promise<EnqueueTurnResult> =>
    this.store.enqueueTurn(
      enqueueInput({ key: 'chat:1', config: { cwd: '/tmp/work', model: 'claude-sonnet-4-5' }, prompt: 'hello', owner: OWNER, maxQueue: 50, idleTimeoutMs: 0, ...over }),
    );

  /** Enqueues and acquires: the turn is running under the returned lease. */
  readonly start = async (over: Partial<EnqueueTurnInput> = {}, owner = OWNER, ttlMs = TTL) => {
    const enq = await this.enqueue(over);
    const got = acquired(await this.store.acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner, ttlMs }));
    return { enq, ...got };
  };

  readonly finish = (lease: Lease, turnId: string, over: Partial<FinishTurnInput> = {}) =>
    this.store.finishTurn({ lease, turnId, status: 'succeeded', text: 'ok', idleTimeoutMs: 0, ...over });

  /** A whole successful turn; leaves the session quiet. */
  readonly runTurn = async (over: Partial<EnqueueTurnInput> = {}, finishOver: Partial<FinishTurnInput> = {}) => {
    const s = await this.start(over);
    return this.finish(s.lease, s.turn.id, { idleTimeoutMs: over.idleTimeoutMs ?? 0, ...finishOver });
  };

  readonly allTurns = (key: string, tenant = 'default') => this.store.listTurns({ tenant, key });
}
