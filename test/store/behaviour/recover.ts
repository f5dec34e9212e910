import { describe, expect, it } from 'vitest';
import { INTERRUPTED, OTHER_OWNER, OWNER, TTL, acquired, type Suite } from './suite.js';

export function recoverBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish } = suite;

  describe('recover', () => {
    it('ends the running and queued turns of a dead owner and frees its lease, leaving live owners alone', async () => {
      const dead = await start({ key: 'dead' }, OWNER);
      const deadQueued = await enqueue({ key: 'dead', owner: OWNER });
      const alive = await start({ key: 'alive' }, OTHER_OWNER);
      const aliveQueued = await enqueue({ key: 'alive', owner: OTHER_OWNER });
      const orphan = await enqueue({ key: 'orphan', owner: OWNER }); // accepted, never started
      const aliveBefore = await store.getSession(alive.session.id);

      const r = await store.recover({ isOwnerAlive: (o) => o === OTHER_OWNER, error: INTERRUPTED });
      expect(r.freed).toBe(1);
      expect(r.interrupted.map((t) => t.id).sort()).toEqual([dead.turn.id, deadQueued.turn.id, orphan.turn.id].sort());
      expect(r.interrupted.every((t) => t.status === 'interrupted' && t.error?.code === 'INTERRUPTED')).toBe(true);

      expect(await store.getSession(dead.session.id)).toMatchObject({ status: 'idle', queued: 0, lease: null, turns: 2 });
      expect(await store.getSession(orphan.session.id)).toMatchObject({ status: 'idle', queued: 0 });
      expect(await store.getSession(alive.session.id)).toEqual(aliveBefore);
      expect((await store.getTurn(aliveQueued.turn.id))?.status).toBe('queued');
      // The dead owner's fenced writes are refused.
      await expect(finish(dead.lease, dead.turn.id)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect((await store.stats()).turns).toMatchObject({ running: 1, queued: 1, interrupted: 3 });
      // The key takes messages again.
      const next = await start({ key: 'dead' });
      expect(next.lease.epoch).toBe(dead.lease.epoch + 1);
    });

    it('hands the queued turns of a dead owner to an adopter, oldest first; its running turn still ends', async () => {
      const running = await start({ key: 'k' }, OWNER);
      clock.advance(1);
      const q1 = await enqueue({ key: 'k', owner: OWNER, prompt: 'one' });
      clock.advance(1);
      const q2 = await enqueue({ key: 'k', owner: OWNER, prompt: 'two' });
      const other = await enqueue({ key: 'other', owner: OTHER_OWNER });

      const r = await store.recover({ isOwnerAlive: (o) => o === OTHER_OWNER, error: INTERRUPTED, adoptQueuedAs: 'adopter' });
      expect(r.interrupted.map((t) => t.id)).toEqual([running.turn.id]);
      expect(r.adopted.map((t) => [t.id, t.status, t.owner])).toEqual([
        [q1.turn.id, 'queued', 'adopter'],
        [q2.turn.id, 'queued', 'adopter'],
      ]);
      expect((await store.getTurn(other.turn.id))?.owner).toBe(OTHER_OWNER);
      // The adopter runs them in order: the lease is free again, and q1 is the head.
      const g = acquired(await store.acquireLease({ sessionId: q1.session.id, turnId: q1.turn.id, owner: 'adopter', ttlMs: TTL }));
      expect(g.lease.epoch).toBe(running.lease.epoch + 1);
      // A second pass adopts nothing more: the adopter is alive.
      const again = await store.recover({ isOwnerAlive: (o) => o !== OWNER, error: INTERRUPTED, adoptQueuedAs: 'adopter' });
      expect(again.adopted).toEqual([]);
    });

    it('ends a turn whose live owner stopped renewing its lease', async () => {
      const s = await start({}, OWNER, 1000);
      expect(await store.recover({ isOwnerAlive: () => true, error: INTERRUPTED })).toEqual({ interrupted: [], freed: 0, adopted: [], withdrawn: [] });
      clock.advance(1000);
      const r = await store.recover({ isOwnerAlive: () => true, error: INTERRUPTED });
      expect(r.freed).toBe(1);
      expect(r.interrupted.map((t) => t.id)).toEqual([s.turn.id]);
      expect(await store.getSession(s.session.id)).toMatchObject({ status: 'idle', lease: null });
    });
  });
}
