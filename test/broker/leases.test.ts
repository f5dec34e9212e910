import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../../src/broker/leases.js';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Lease, TurnRecord } from '../../src/domain/types.js';
import { TetherError } from '../../src/errors.js';
import type { Store } from '../../src/store/store.js';

/** Renewed every 1,000 ms; given up 3,600 ms after the last confirmed renewal was asked for. */
const TTL = 6_000;
const turn = { id: 'turn-1', key: 'k' } as TurnRecord;

/** A store whose renewals the test decides, one lease at a time (null: lost). */
const storeOf = (renew: (lease: Lease, ttl: number) => Promise<Lease | null>): Store =>
  ({ renewLeases: (leases: Lease[], ttl: number) => Promise.all(leases.map((l) => renew(l, ttl))) }) as unknown as Store;

/** A keeper over a store whose renewals the test decides. */
function keeper(renew: (lease: Lease, ttl: number) => Promise<Lease | null>) {
  const clock = new ManualClock(0);
  const config = loadConfig({ leaseTtlMs: TTL, logLevel: 'silent' }, {});
  const k = new LeaseKeeper({ store: storeOf(renew), clock, log: pino({ level: 'silent' }), config });
  const lease: Lease = { sessionId: 's', owner: 'o', token: 't', epoch: 1, expiresAt: clock.now() + TTL };
  const events: string[] = [];
  const held = k.hold(lease, turn, { onLost: () => events.push(`lost at ${clock.now()}`), onInterruptRequested: () => events.push('interrupt') });
  return { clock, keeper: k, held, events };
}

describe('LeaseKeeper', () => {
  it('renews every sixth of the TTL and keeps the turn while renewals succeed', async () => {
    let renewals = 0;
    const { clock, held, events, keeper: k } = keeper(async (l, ttl) => {
      renewals++;
      return { ...l, expiresAt: clock.now() + ttl };
    });
    await clock.advanceAsync(TTL * 5);
    expect(renewals).toBe(30);
    expect(events).toEqual([]);
    expect(held.lost).toBe(false);
    expect(held.lease.expiresAt).toBe(TTL * 5 + TTL);
    held.release();
    expect(k.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops the turn when no renewal is confirmed for 60% of the TTL (a hung connection), before the lease can go elsewhere', async () => {
    const { clock, held, events } = keeper(() => new Promise<Lease>(() => undefined));
    await clock.advanceAsync(TTL);
    // Checked at each renewal tick: the first past 3,600 ms.
    expect(events).toEqual(['lost at 4000']);
    expect(held.lost).toBe(true);
  });

  it('counts from when the grant was asked for: an old grant the store does not renew is given up one period after asking', async () => {
    const clock = new ManualClock(10_000);
    const config = loadConfig({ leaseTtlMs: TTL, logLevel: 'silent' }, {});
    const k = new LeaseKeeper({ store: storeOf(() => new Promise<Lease>(() => undefined)), clock, log: pino({ level: 'silent' }), config });
    const lost: number[] = [];
    // Granted 3,000 ms ago (its expiry says so): 60% of the TTL is up 600 ms from now. The first
    // tick finds no renewal unanswered, so it asks; the next finds that one unanswered for a
    // period and gives the lease up (counting from now, it would last until the fourth).
    k.hold({ sessionId: 's', owner: 'o', token: 't', epoch: 1, expiresAt: clock.now() - 3_000 + TTL }, turn, { onLost: () => lost.push(clock.now()), onInterruptRequested: () => undefined });
    await clock.advanceAsync(TTL);
    expect(lost).toEqual([12_000]);
  });

  it('keeps the leases of a process that stalled (its event loop blocked) when the store still has them', async () => {
    let renewals = 0;
    const { clock, held, events } = keeper(async (l, ttl) => {
      renewals++;
      return { ...l, expiresAt: clock.now() + ttl };
    });
    await clock.advanceAsync(1_000);
    expect(renewals).toBe(1);
    // Nothing ran for 5 s (more than 60% of the TTL since the last confirmed renewal); the one
    // tick that runs then asks the store, whose answer says the lease is still this turn's.
    clock.advance(5_000);
    await clock.advanceAsync(0);
    expect(renewals).toBe(2);
    expect(events).toEqual([]);
    expect(held.lost).toBe(false);
    expect(held.lease.expiresAt).toBe(6_000 + TTL);
  });

  it('keeps the leases of a process that stalled while a renewal was on its way, whose answer comes right after', async () => {
    const answers: Array<() => void> = [];
    const { clock, held, events } = keeper((l, ttl) => new Promise((resolve) => answers.push(() => resolve({ ...l, expiresAt: clock.now() + ttl }))));
    await clock.advanceAsync(1_000);
    expect(answers).toHaveLength(1);
    // The renewal asked at 1,000 is answered, but the process stalls before it reads the answer:
    // the first tick after the stall runs before it (timers come before I/O in a loop turn).
    clock.advance(5_000);
    await clock.advanceAsync(0);
    answers[0]!();
    await clock.advanceAsync(0);
    expect(events).toEqual([]);
    expect(held.lease.expiresAt).toBe(6_000 + TTL);
    // A store that then stops answering still costs the lease: the stall delayed that by a period.
    await clock.advanceAsync(TTL);
    expect(events).toEqual(['lost at 8000']);
  });

  it('gives up the leases of a process that stalled when the store no longer has them', async () => {
    const { clock, events } = keeper(async (l, ttl) => (clock.now() > 3_000 ? null : { ...l, expiresAt: clock.now() + ttl }));
    await clock.advanceAsync(1_000);
    clock.advance(8_000);
    await clock.advanceAsync(0);
    expect(events).toEqual(['lost at 9000']);
  });

  it('stops the turn at once when the store says the lease was taken over', async () => {
    const { clock, events } = keeper(async () => null);
    await clock.advanceAsync(TTL / 6);
    expect(events).toEqual(['lost at 1000']);
  });

  it('retries after a failed renewal (store hiccup) and keeps the turn when the next one succeeds', async () => {
    let calls = 0;
    const { clock, events, held } = keeper(async (l) => {
      if (++calls === 1) throw new TetherError('STORE_UNAVAILABLE', 'blip');
      return { ...l };
    });
    await clock.advanceAsync(TTL);
    expect(events).toEqual([]);
    expect(held.lost).toBe(false);
  });

  it('passes an interrupt asked for elsewhere on to the turn', async () => {
    const { clock, events } = keeper(async (l) => ({ ...l, interruptRequested: true }));
    await clock.advanceAsync(TTL / 6);
    expect(events).toEqual(['interrupt']);
  });

  it("renews every lease the node holds in one call per tick, and gives up only the one the store lost", async () => {
    const clock = new ManualClock(0);
    const config = loadConfig({ leaseTtlMs: TTL, logLevel: 'silent' }, {});
    const calls: string[][] = [];
    const store = {
      renewLeases: async (leases: Lease[], ttl: number) => {
        calls.push(leases.map((l) => l.sessionId));
        return leases.map((l) => (l.sessionId === 'b' && calls.length > 1 ? null : { ...l, expiresAt: clock.now() + ttl }));
      },
    } as unknown as Store;
    const k = new LeaseKeeper({ store, clock, log: pino({ level: 'silent' }), config });
    const lost: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      k.hold({ sessionId: id, owner: 'o', token: `t-${id}`, epoch: 1, expiresAt: TTL }, { id: `turn-${id}`, key: id } as TurnRecord, { onLost: () => lost.push(id), onInterruptRequested: () => undefined });
    }
    await clock.advanceAsync(2_000);
    expect(calls).toEqual([['a', 'b', 'c'], ['a', 'b', 'c']]);
    expect(lost).toEqual(['b']);
    await clock.advanceAsync(1_000);
    expect(calls.at(-1)).toEqual(['a', 'c']);
    k.close();
  });

  it('confirms a grant older than a renewal period before its turn starts an agent; a fresh one costs nothing', async () => {
    const clock = new ManualClock(100_000);
    const config = loadConfig({ leaseTtlMs: TTL, logLevel: 'silent' }, {});
    const asked: string[] = [];
    const store = {
      renewLeases: async (leases: Lease[], ttl: number) => leases.map((l) => (asked.push(l.sessionId), l.sessionId === 'taken' ? null : { ...l, expiresAt: clock.now() + ttl })),
    } as unknown as Store;
    const k = new LeaseKeeper({ store, clock, log: pino({ level: 'silent' }), config });
    const lost: string[] = [];
    const hold = (id: string, grantedMsAgo: number) =>
      k.hold({ sessionId: id, owner: 'o', token: `t-${id}`, epoch: 1, expiresAt: clock.now() - grantedMsAgo + TTL }, { id, key: id } as TurnRecord, {
        onLost: () => lost.push(id),
        onInterruptRequested: () => undefined,
      });
    expect(await k.confirm(hold('fresh', 5))).toBe(true);
    expect(asked).toEqual([]);
    const old = hold('old', 2_500);
    expect(await k.confirm(old)).toBe(true);
    expect(old.lease.expiresAt).toBe(clock.now() + TTL);
    expect(await k.confirm(hold('taken', 8_000))).toBe(false);
    expect(asked).toEqual(['old', 'taken']);
    expect(lost).toEqual(['taken']);
    k.close();
  });

  it('does not pile renewals up behind one that hangs', async () => {
    let calls = 0;
    const { clock } = keeper(() => {
      calls++;
      return new Promise<Lease>(() => undefined);
    });
    await clock.advanceAsync(TTL * 0.5);
    expect(calls).toBe(1);
  });
});
