import { describe, expect, it } from 'vitest';
import type { Suite } from './suite.js';

export function closeDeleteBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, runTurn, allTurns } = suite;

  describe('closeSession and deleteKey', () => {
    it('closes the live session; the next message opens a new generation', async () => {
      const first = await runTurn();
      clock.advance(5);
      const closed = await store.closeSession('default', 'chat:1', 'reset');
      expect(closed).toMatchObject({ id: first.session.id, status: 'closed', closeReason: 'reset', closedAt: clock.now(), expiresAt: null });
      expect(await store.getLiveSession('default', 'chat:1')).toBeNull();
      expect((await store.getLatestSession('default', 'chat:1'))?.id).toBe(first.session.id);
      expect(await store.closeSession('default', 'chat:1', 'reset')).toBeNull();
      expect(await store.closeSession('default', 'unknown', 'reset')).toBeNull();
      const next = await enqueue();
      expect(next).toMatchObject({ created: true, closed: [], session: { generation: 2 } });
      expect((await store.stats()).sessions).toMatchObject({ reset: 1, live: 1, created: 2 });
    });

    it("closes as 'expired' when that is the reason", async () => {
      await runTurn();
      expect(await store.closeSession('default', 'chat:1', 'expired')).toMatchObject({ status: 'expired', closeReason: 'expired' });
      expect((await store.stats()).sessions.expired).toBe(1);
    });

    it('refuses to close or delete a busy session', async () => {
      const s = await start();
      await expect(store.closeSession('default', 'chat:1', 'reset')).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      await expect(store.deleteKey('default', 'chat:1')).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      await finish(s.lease, s.turn.id);
      await enqueue();
      await expect(store.closeSession('default', 'chat:1', 'reset')).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      await expect(store.deleteKey('default', 'chat:1')).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      expect((await store.getLiveSession('default', 'chat:1'))?.status).toBe('idle');
    });

    it('deletes every generation and turn of the key', async () => {
      const g1 = await runTurn();
      await store.closeSession('default', 'chat:1', 'reset');
      const g2 = await runTurn();
      const other = await runTurn({ key: 'other' });
      expect(await store.deleteKey('default', 'chat:1')).toBe(2);
      expect(await store.getSession(g1.session.id)).toBeNull();
      expect(await store.getSession(g2.session.id)).toBeNull();
      expect(await store.getTurn(g2.turn.id)).toBeNull();
      expect(await allTurns('chat:1')).toEqual([]);
      expect(await store.getLatestSession('default', 'chat:1')).toBeNull();
      expect(await store.deleteKey('default', 'chat:1')).toBe(0);
      expect(await store.getSession(other.session.id)).not.toBeNull();
      expect((await store.stats()).sessions.live).toBe(1);
      // The key starts over.
      expect((await enqueue()).session).toMatchObject({ generation: 1, turnSeq: 1 });
    });
  });
}
