import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RENEWALS_PER_STATEMENT } from '../../../src/store/sql/leases.js';
import { INTERRUPTED, OTHER_OWNER, OWNER, TTL, acquired, usage, type Suite } from './suite.js';

export function leaseBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish } = suite;

  describe('leases', () => {
    it('grants the lease with the enqueue when asked and the session is quiet (one transaction)', async () => {
      clock.advance(5);
      const enq = await enqueue({ leaseTtlMs: TTL });
      expect(enq.lease).toMatchObject({ sessionId: enq.session.id, owner: OWNER, epoch: 1, expiresAt: clock.now() + TTL });
      expect(enq.interrupted).toEqual([]);
      expect(enq.turn).toMatchObject({ status: 'running', startedAt: clock.now(), epoch: 1 });
      expect(enq.session).toMatchObject({ status: 'running', queued: 0, lease: enq.lease });
      // Already running: there is nothing left to acquire.
      expect((await store.acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner: OWNER, ttlMs: TTL })).status).toBe('gone');
      expect((await store.stats()).turns).toMatchObject({ queued: 0, running: 1 });
      await finish(enq.lease!, enq.turn.id);
      // The epoch outlives the lease: the next turn runs under the one after it.
      expect(await store.getSession(enq.session.id)).toMatchObject({ lease: null, leaseEpoch: 1 });
      const next = await enqueue({ leaseTtlMs: TTL });
      expect(next.lease?.epoch).toBe(2);
      expect(next.session.leaseEpoch).toBe(2);
    });

    it('queues without a lease when asked on a busy session', async () => {
      const first = await enqueue({ leaseTtlMs: TTL });
      const second = await enqueue({ leaseTtlMs: TTL, prompt: 'second' });
      expect(second.lease).toBeUndefined();
      expect(second.turn.status).toBe('queued');
      expect(second.session).toMatchObject({ queued: 1, lease: first.lease });
      await finish(first.lease!, first.turn.id);
      // Once quiet again only the queue head may run: a newcomer still queues behind it.
      const third = await enqueue({ leaseTtlMs: TTL, prompt: 'third' });
      expect(third.lease).toBeUndefined();
      const g2 = acquired(await store.acquireLease({ sessionId: second.session.id, turnId: second.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(g2.lease.epoch).toBe(2);
    });

    it('takes over an expired lease with the enqueue, interrupting what ran under it', async () => {
      const old = await enqueue({ leaseTtlMs: TTL, owner: OTHER_OWNER });
      clock.advance(TTL + 1);
      const next = await enqueue({ leaseTtlMs: TTL, prompt: 'after takeover' });
      expect(next.lease?.epoch).toBe(2);
      expect(next.interrupted?.map((t) => t.id)).toEqual([old.turn.id]);
      expect((await store.getTurn(old.turn.id))?.status).toBe('interrupted');
      await expect(finish(old.lease!, old.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    });

    it('grants the lease for the queue head: turn and session become running', async () => {
      const enq = await enqueue();
      clock.advance(5);
      const got = acquired(await store.acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(got.lease).toMatchObject({ sessionId: enq.session.id, owner: OWNER, epoch: 1, expiresAt: clock.now() + TTL });
      expect(got.lease.token).toEqual(expect.any(String));
      expect(got.interrupted).toEqual([]);
      expect(got.turn).toMatchObject({ status: 'running', startedAt: clock.now(), epoch: 1 });
      expect(got.session).toMatchObject({ status: 'running', queued: 0, lease: got.lease });
      expect(await store.getSession(enq.session.id)).toEqual(got.session);
      const stats = await store.stats();
      expect(stats.turns).toMatchObject({ queued: 0, running: 1 });
    });

    it('keeps FIFO order: a non-head turn waits, and so does the head while the lease is held', async () => {
      const t1 = await enqueue({ prompt: 'one' });
      const t2 = await enqueue({ prompt: 'two' });
      const t3 = await enqueue({ prompt: 'three' });
      const sid = t1.session.id;
      expect(await store.acquireLease({ sessionId: sid, turnId: t2.turn.id, owner: OWNER, ttlMs: TTL })).toEqual({ status: 'wait' });
      const g1 = acquired(await store.acquireLease({ sessionId: sid, turnId: t1.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(await store.acquireLease({ sessionId: sid, turnId: t2.turn.id, owner: OTHER_OWNER, ttlMs: TTL })).toEqual({ status: 'wait' });
      await finish(g1.lease, t1.turn.id);
      expect(await store.acquireLease({ sessionId: sid, turnId: t3.turn.id, owner: OWNER, ttlMs: TTL })).toEqual({ status: 'wait' });
      const g2 = acquired(await store.acquireLease({ sessionId: sid, turnId: t2.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(g2.lease.epoch).toBe(g1.lease.epoch + 1);
      expect(g2.lease.token).not.toBe(g1.lease.token);
      await finish(g2.lease, t2.turn.id);
      const g3 = acquired(await store.acquireLease({ sessionId: sid, turnId: t3.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(g3.lease.epoch).toBe(g2.lease.epoch + 1);
    });

    it("answers 'gone' for a turn that is unknown or no longer queued", async () => {
      const enq = await enqueue();
      expect(await store.acquireLease({ sessionId: enq.session.id, turnId: randomUUID(), owner: OWNER, ttlMs: TTL })).toEqual({
        status: 'gone',
        turn: null,
      });
      expect(await store.abandonTurn(enq.turn.id, INTERRUPTED)).toBe(true);
      const gone = await store.acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner: OWNER, ttlMs: TTL });
      expect(gone).toMatchObject({ status: 'gone', turn: { id: enq.turn.id, status: 'interrupted' } });
    });

    it('renews a held lease', async () => {
      const s = await start();
      clock.advance(10_000);
      const renewed = await store.renewLease(s.lease, 60_000);
      expect(renewed).toEqual({ ...s.lease, expiresAt: clock.now() + 60_000 });
      expect((await store.getSession(s.session.id))?.lease).toEqual(renewed);
    });

    it('renews many leases in one call: each held one runs on and says whether its turn was asked to stop; a lost one is null', async () => {
      const a = await start({ key: 'renew:a' });
      const b = await start({ key: 'renew:b' }, OWNER, 1000);
      const c = await start({ key: 'renew:c' });
      // b's expired lease is taken over; c's turn is asked to stop.
      const next = await enqueue({ key: 'renew:b' });
      clock.advance(2000);
      acquired(await store.acquireLease({ sessionId: b.session.id, turnId: next.turn.id, owner: OTHER_OWNER, ttlMs: TTL }));
      expect(await store.requestInterrupt(c.turn.id)).toBe(true);
      const forged = { ...a.lease, sessionId: c.session.id, token: randomUUID() };
      const renewed = await store.renewLeases([a.lease, b.lease, c.lease, forged], 60_000);
      expect(renewed).toEqual([{ ...a.lease, expiresAt: clock.now() + 60_000 }, null, { ...c.lease, expiresAt: clock.now() + 60_000, interruptRequested: true }, null]);
      expect((await store.getSession(a.session.id))?.lease?.expiresAt).toBe(clock.now() + 60_000);
      expect(await store.renewLeases([], TTL)).toEqual([]);
    });

    it('renews more leases than one statement takes, every one of them', async () => {
      const count = RENEWALS_PER_STATEMENT + 10;
      const held = [];
      // Twenty-five at a time: one after another took most of the PostgreSQL suite's time.
      for (let i = 0; i < count; i += 25) {
        const batch = Array.from({ length: Math.min(25, count - i) }, (_, j) => start({ key: `many:${i + j}` }));
        held.push(...(await Promise.all(batch)).map((s) => s.lease));
      }
      clock.advance(5);
      const renewed = await store.renewLeases(held, TTL);
      expect(renewed.map((l) => l?.expiresAt)).toEqual(held.map(() => clock.now() + TTL));
    }, 120_000);

    it('takes over an expired lease, interrupting the turn left running under it', async () => {
      const s = await start({}, OWNER, 1000);
      const next = await enqueue({ prompt: 'after' });
      // Still held: the next turn waits.
      expect(await store.acquireLease({ sessionId: s.session.id, turnId: next.turn.id, owner: OTHER_OWNER, ttlMs: TTL })).toEqual({
        status: 'wait',
      });
      clock.advance(1000);
      const got = acquired(await store.acquireLease({ sessionId: s.session.id, turnId: next.turn.id, owner: OTHER_OWNER, ttlMs: TTL }));
      expect(got.lease.epoch).toBe(s.lease.epoch + 1);
      expect(got.interrupted).toHaveLength(1);
      expect(got.interrupted[0]).toMatchObject({
        id: s.turn.id,
        status: 'interrupted',
        error: { code: 'INTERRUPTED', message: 'the process running this turn stopped renewing its lease' },
        endedAt: clock.now(),
      });
      expect(got.session).toMatchObject({ status: 'running', queued: 0, turns: 1, lease: got.lease });
      const stats = await store.stats();
      expect(stats.turns).toMatchObject({ running: 1, interrupted: 1, queued: 0 });
    });

    it('fences a stale lease: finish, renew and setAgentSession get LEASE_LOST and change nothing', async () => {
      const s = await start({}, OWNER, 1000);
      const next = await enqueue();
      clock.advance(2000);
      const got = acquired(await store.acquireLease({ sessionId: s.session.id, turnId: next.turn.id, owner: OTHER_OWNER, ttlMs: TTL }));
      const sessionBefore = await store.getSession(s.session.id);
      const oldTurnBefore = await store.getTurn(s.turn.id);
      const statsBefore = await store.stats();

      await expect(
        finish(s.lease, s.turn.id, { usage: usage(100, 10, 0.5), agentSessionId: 'stale', context: { tokens: 9, window: 10, ratio: 0.9 } }),
      ).rejects.toMatchObject({ code: 'LEASE_LOST' });
      // Even naming the turn that now runs: the lease is not its lease.
      await expect(finish(s.lease, next.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await expect(store.renewLease(s.lease, TTL)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await expect(store.setAgentSession(s.lease, 'stale')).rejects.toMatchObject({ code: 'LEASE_LOST' });

      expect(await store.getSession(s.session.id)).toEqual(sessionBefore);
      expect(await store.getTurn(s.turn.id)).toEqual(oldTurnBefore);
      expect(await store.getTurn(next.turn.id)).toMatchObject({ status: 'running', epoch: got.lease.epoch });
      expect(await store.stats()).toEqual(statsBefore);
    });

    it('rejects a forged token with the right epoch', async () => {
      const s = await start();
      const forged = { ...s.lease, token: randomUUID() };
      await expect(finish(forged, s.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await expect(store.renewLease(forged, TTL)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect((await store.getTurn(s.turn.id))?.status).toBe('running');
    });

    it('lets a lease past its expiry that nobody took over still finish its turn', async () => {
      const s = await start({}, OWNER, 1000);
      clock.advance(5000);
      const done = await finish(s.lease, s.turn.id);
      expect(done.turn.status).toBe('succeeded');
      expect(done.session.lease).toBeNull();
    });

    it('records the agent session id under the lease', async () => {
      const s = await start();
      await store.setAgentSession(s.lease, 'agent-123');
      expect((await store.getSession(s.session.id))?.agentSessionId).toBe('agent-123');
    });
  });
}
