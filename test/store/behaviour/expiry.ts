import { describe, expect, it } from 'vitest';
import { OWNER, type Suite } from './suite.js';

export function expiryBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, runTurn } = suite;

  describe('idle expiry', () => {
    it('pushes the expiry on activity, so a busy conversation does not expire', async () => {
      const idle = 1000;
      await runTurn({ idleTimeoutMs: idle });
      for (let i = 0; i < 5; i++) {
        clock.advance(900);
        const r = await runTurn({ idleTimeoutMs: idle });
        expect(r.session.generation).toBe(1);
        expect(r.session.expiresAt).toBe(clock.now() + idle);
      }
      expect(await store.sweepExpired(10)).toEqual([]);
    });

    it('closes an expired session on the next message and opens generation 2', async () => {
      const first = await runTurn({ idleTimeoutMs: 1000, labels: { team: 'web' } }, { agentSessionId: 'agent-1' });
      clock.advance(1000);
      const r = await enqueue({ idleTimeoutMs: 1000, config: { cwd: '/tmp/next' } });
      expect(r.created).toBe(true);
      expect(r.closed).toHaveLength(1);
      expect(r.closed[0]).toMatchObject({
        id: first.session.id,
        status: 'expired',
        closeReason: 'expired',
        closedAt: clock.now(),
        expiresAt: null,
      });
      expect(r.session).toMatchObject({
        generation: 2,
        status: 'idle',
        turnSeq: 2,
        turns: 0,
        agentSessionId: null,
        config: { cwd: '/tmp/next' },
        labels: { team: 'web' },
      });
      expect(r.turn.seq).toBe(2);
      expect((await store.getLatestSession('default', 'chat:1'))?.id).toBe(r.session.id);
      expect((await store.getSession(first.session.id))?.status).toBe('expired');
      const stats = await store.stats();
      expect(stats.sessions).toMatchObject({ live: 1, created: 2, expired: 1 });
    });

    it('does not expire a running session when its TTL passes', async () => {
      const s = await start({ idleTimeoutMs: 1000 });
      clock.advance(5000);
      expect(await store.sweepExpired(10)).toEqual([]);
      const r = await enqueue({ idleTimeoutMs: 1000 });
      expect(r.created).toBe(false);
      expect(r.session.id).toBe(s.session.id);
    });

    it('sweeps exactly the sessions that are due, oldest first, up to the limit', async () => {
      // d and e fall due first but are busy: running, and queued without a lease.
      const d = await start({ key: 'd', idleTimeoutMs: 1000 });
      const e = await enqueue({ key: 'e', idleTimeoutMs: 1000 });
      const never = await runTurn({ key: 'never', idleTimeoutMs: 0 });
      const a = await runTurn({ key: 'a', idleTimeoutMs: 1000 });
      clock.advance(100);
      const b = await runTurn({ key: 'b', idleTimeoutMs: 1000 });
      clock.advance(100);
      const c = await runTurn({ key: 'c', idleTimeoutMs: 1000 });
      clock.set(b.session.expiresAt ?? 0); // a and b are due, c is not
      const first = await store.sweepExpired(1);
      expect(first.map((s) => s.id)).toEqual([a.session.id]);
      expect(first[0]).toMatchObject({ status: 'expired', closeReason: 'expired', closedAt: clock.now() });
      const second = await store.sweepExpired(10);
      expect(second.map((s) => s.id)).toEqual([b.session.id]);
      expect(await store.sweepExpired(10)).toEqual([]);
      expect((await store.getSession(c.session.id))?.status).toBe('idle');
      expect((await store.getSession(d.session.id))?.status).toBe('running');
      expect((await store.getSession(e.session.id))?.status).toBe('idle');
      expect((await store.getSession(never.session.id))?.status).toBe('idle');
      expect((await store.stats()).sessions).toMatchObject({ expired: 2, live: 4 });
    });

    it('expires a session whose lease expired unrenewed, ending the turn stranded under it', async () => {
      const s = await start({ idleTimeoutMs: 1000 }, OWNER, 500);
      clock.advance(1000);
      const r = await enqueue({ idleTimeoutMs: 1000 });
      expect(r.created).toBe(true);
      expect(r.closed).toMatchObject([{ id: s.session.id, status: 'expired', lease: null }]);
      expect(await store.getTurn(s.turn.id)).toMatchObject({ status: 'interrupted', error: { code: 'INTERRUPTED' } });
      await expect(finish(s.lease, s.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect((await store.stats()).turns).toMatchObject({ running: 0, interrupted: 1, queued: 1 });
    });

    it('never expires a session when the idle TTL is 0', async () => {
      const r = await runTurn({ idleTimeoutMs: 0 });
      expect(r.session.expiresAt).toBeNull();
      clock.advance(10 * 365 * 24 * 3600 * 1000);
      expect(await store.sweepExpired(100)).toEqual([]);
      const again = await enqueue({ idleTimeoutMs: 0 });
      expect(again.created).toBe(false);
      expect(again.session.id).toBe(r.session.id);
    });
  });
}
