import { describe, expect, it } from 'vitest';
import { OWNER, TTL, acquired, usage, type Suite } from './suite.js';

export function lifecycleBehaviour(suite: Suite): void {
  const { store, enqueue, start, finish, runTurn } = suite;

  describe('lifecycle', () => {
    it('keeps everything across a reopen', async ({ skip }) => {
      if (!suite.harness.reopen) {
        skip('this adapter keeps no data across a reopen');
        return;
      }
      const done = await runTurn({ key: 'a', labels: { x: '1' }, idleTimeoutMs: 5000 }, { usage: usage(10, 1, 0.25), agentSessionId: 'ag' });
      const running = await start({ key: 'b' });
      const waiting = await enqueue({ key: 'b' });
      const statsBefore = await store.stats();
      const listBefore = await store.listSessions({});

      await suite.reopen();
      expect(await store.getSession(done.session.id)).toEqual(done.session);
      expect(await store.getTurn(done.turn.id)).toEqual(done.turn);
      expect(await store.getTurn(waiting.turn.id)).toEqual(waiting.turn);
      expect(await store.stats()).toEqual(statsBefore);
      expect(await store.listSessions({})).toEqual(listBefore);
      // The lease survives: its holder can still finish, fenced as before.
      const finished = await finish(running.lease, running.turn.id);
      expect(finished.turn.status).toBe('succeeded');
      const next = acquired(await store.acquireLease({ sessionId: running.session.id, turnId: waiting.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(next.lease.epoch).toBe(running.lease.epoch + 1);
    });

    it('refuses every call once closed', async () => {
      await enqueue();
      await store.close();
      await expect(store.getLiveSession('default', 'chat:1')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(enqueue()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(store.stats()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });
  });
}
