import { describe, expect, it } from 'vitest';
import type { Suite } from './suite.js';

export function capBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, runTurn } = suite;

  describe('session cap', () => {
    it('evicts the least recently used quiet session to make room', async () => {
      const cap = { maxSessions: 3 };
      const a = await runTurn({ key: 'a', ...cap });
      clock.advance(10);
      const b = await runTurn({ key: 'b', ...cap });
      clock.advance(10);
      await runTurn({ key: 'c', ...cap });
      clock.advance(10);
      await runTurn({ key: 'a', ...cap }); // a is now the most recent
      clock.advance(10);
      const d = await enqueue({ key: 'd', ...cap });
      expect(d.created).toBe(true);
      expect(d.closed).toHaveLength(1);
      expect(d.closed[0]).toMatchObject({ id: b.session.id, status: 'closed', closeReason: 'evicted', closedAt: clock.now() });
      expect((await store.getLiveSession('default', 'a'))?.id).toBe(a.session.id);
      expect(await store.getLiveSession('default', 'b')).toBeNull();
      expect((await store.stats()).sessions).toMatchObject({ live: 3, evicted: 1, created: 4 });
    });

    it('never evicts a running or queued session', async () => {
      const cap = { maxSessions: 3 };
      const running = await start({ key: 'running', ...cap });
      clock.advance(10);
      const queued = await enqueue({ key: 'queued', ...cap });
      clock.advance(10);
      const quiet = await runTurn({ key: 'quiet', ...cap });
      clock.advance(10);
      const r = await enqueue({ key: 'new', ...cap });
      expect(r.closed.map((s) => s.id)).toEqual([quiet.session.id]);
      expect((await store.getSession(running.session.id))?.status).toBe('running');
      expect((await store.getSession(queued.session.id))?.status).toBe('idle');
    });

    it("throws LIMIT_REACHED with onLimit 'reject', changing nothing", async () => {
      await runTurn({ key: 'a', maxSessions: 2 });
      await runTurn({ key: 'b', maxSessions: 2 });
      const before = await store.stats();
      const err = await enqueue({ key: 'c', maxSessions: 2, onLimit: 'reject' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'LIMIT_REACHED' });
      expect((err as Error).message).toMatch(/maxSessions/);
      expect(await store.getLatestSession('default', 'c')).toBeNull();
      expect(await store.stats()).toEqual(before);
      // An existing key still takes messages at the cap.
      expect((await enqueue({ key: 'a', maxSessions: 2, onLimit: 'reject' })).created).toBe(false);
    });

    it('throws LIMIT_REACHED when every live session is busy', async () => {
      await start({ key: 'a', maxSessions: 2 });
      await enqueue({ key: 'b', maxSessions: 2 });
      const err = await enqueue({ key: 'c', maxSessions: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'LIMIT_REACHED' });
      expect((err as Error).message).toMatch(/evict/);
      expect(await store.getLatestSession('default', 'c')).toBeNull();
      expect((await store.stats()).sessions.live).toBe(2);
    });

    it('evicts as many as it takes when the cap was lowered below the live count', async () => {
      const ids: string[] = [];
      for (const key of ['a', 'b', 'c']) {
        ids.push((await runTurn({ key })).session.id);
        clock.advance(10);
      }
      const r = await enqueue({ key: 'd', maxSessions: 2 });
      expect(r.closed.map((s) => s.id)).toEqual([ids[0], ids[1]]);
      expect((await store.stats()).sessions.live).toBe(2);
    });

    it('counts live sessions of every tenant against the cap', async () => {
      const a = await runTurn({ tenant: 't1', key: 'a', maxSessions: 2 });
      clock.advance(10);
      await runTurn({ tenant: 't2', key: 'a', maxSessions: 2 });
      clock.advance(10);
      const r = await enqueue({ tenant: 't2', key: 'b', maxSessions: 2 });
      expect(r.closed.map((s) => s.id)).toEqual([a.session.id]);
      expect((await store.stats('t1')).sessions).toMatchObject({ live: 0, evicted: 1 });
      expect((await store.stats('t2')).sessions).toMatchObject({ live: 2, evicted: 0 });
    });

    it('reopens an expired key at the cap without evicting anyone', async () => {
      await runTurn({ key: 'a', maxSessions: 2, idleTimeoutMs: 1000 });
      await runTurn({ key: 'b', maxSessions: 2, idleTimeoutMs: 0 });
      clock.advance(1000);
      const r = await enqueue({ key: 'a', maxSessions: 2, idleTimeoutMs: 1000 });
      expect(r.closed.map((s) => s.closeReason)).toEqual(['expired']);
      expect(await store.getLiveSession('default', 'b')).not.toBeNull();
    });

    it('enforceCap evicts least recently used quiet sessions down to the cap, up to the limit', async () => {
      const ids: string[] = [];
      for (const key of ['a', 'b', 'c', 'd', 'e']) {
        ids.push((await runTurn({ key })).session.id);
        clock.advance(10);
      }
      await start({ key: 'a' }); // the oldest becomes busy
      expect(await store.enforceCap(10, 10)).toEqual([]);
      const first = await store.enforceCap(2, 2);
      expect(first.map((s) => s.id)).toEqual([ids[1], ids[2]]);
      expect(first.every((s) => s.status === 'closed' && s.closeReason === 'evicted')).toBe(true);
      const second = await store.enforceCap(2, 10);
      expect(second.map((s) => s.id)).toEqual([ids[3]]);
      expect((await store.stats()).sessions).toMatchObject({ live: 2, evicted: 3 });
    });
  });
}
