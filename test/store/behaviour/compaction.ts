import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../../src/domain/types.js';
import { OWNER, TTL, acquired, type Suite } from './suite.js';

export function compactionBehaviour(suite: Suite): void {
  const { store, enqueue, start, finish, runTurn, allTurns } = suite;
  const compactFirst = (wanted: (s: SessionRecord) => boolean) => ({ turnId: randomUUID(), prompt: '/compact', wanted });

  describe('auto-compaction journaled with the turn (compactFirst)', () => {
    it('journals the compaction just before the turn, on a quiet session the turn joins, and grants it the lease', async () => {
      const first = await runTurn();
      const seen: string[] = [];
      const r = await enqueue({ prompt: 'next', leaseTtlMs: TTL, compactFirst: compactFirst((s) => (seen.push(s.id), true)) });
      expect(seen).toEqual([first.session.id]);
      expect(r.compaction).toMatchObject({ seq: 2, prompt: '/compact', status: 'running', sessionId: first.session.id });
      expect(r.turn).toMatchObject({ seq: 3, prompt: 'next', status: 'queued' });
      expect(r.lease).toBeDefined();
      expect(r.session).toMatchObject({ status: 'running', queued: 1, turnSeq: 3 });
      expect((await allTurns('chat:1')).map((t) => [t.seq, t.prompt, t.status])).toEqual([
        [1, 'hello', 'succeeded'],
        [2, '/compact', 'running'],
        [3, 'next', 'queued'],
      ]);
      // The prompt's turn gets the lease once the compaction has ended.
      await finish(r.lease!, r.compaction!.id);
      const got = acquired(await store.acquireLease({ sessionId: r.session.id, turnId: r.turn.id, owner: OWNER, ttlMs: TTL }));
      expect(got.lease.epoch).toBe(r.lease!.epoch + 1);
      expect((await store.stats()).turns).toMatchObject({ queued: 0, running: 1, succeeded: 2 });
    });

    it('without the lease, both wait queued in order; the compaction heads the queue', async () => {
      await runTurn();
      const r = await enqueue({ prompt: 'next', compactFirst: compactFirst(() => true) });
      expect([r.compaction?.status, r.turn.status, r.session.queued]).toEqual(['queued', 'queued', 2]);
      expect(await store.acquireLease({ sessionId: r.session.id, turnId: r.turn.id, owner: OWNER, ttlMs: TTL })).toEqual({ status: 'wait' });
      acquired(await store.acquireLease({ sessionId: r.session.id, turnId: r.compaction!.id, owner: OWNER, ttlMs: TTL }));
    });

    it('is not asked of a busy session, a new one, or for a regenerating turn; a refusal journals nothing', async () => {
      let asked = 0;
      const wanted = compactFirst(() => (asked++, true));
      expect((await enqueue({ key: 'fresh', compactFirst: wanted })).compaction).toBeUndefined();
      const first = await runTurn();
      const regenerated = await enqueue({ regenerates: first.turn.id, prompt: first.turn.prompt, compactFirst: wanted });
      expect(regenerated.compaction).toBeUndefined();
      await start({ key: 'busy' });
      expect((await enqueue({ key: 'busy', compactFirst: wanted })).compaction).toBeUndefined();
      expect(asked).toBe(0);
      expect((await enqueue({ key: 'chat:1', compactFirst: compactFirst(() => false) })).compaction).toBeUndefined();
    });
  });

  describe('finishTurn closing a quiet session (closeIfQuiet)', () => {
    it('closes the session with the outcome when nothing waits behind the turn', async () => {
      const s = await start();
      const r = await finish(s.lease, s.turn.id, { closeIfQuiet: 'context' });
      expect(r.turn.status).toBe('succeeded');
      expect(r.session).toMatchObject({ status: 'closed', closeReason: 'context', lease: null });
      expect(await store.getLiveSession('default', 'chat:1')).toBeNull();
      expect((await store.stats()).sessions.live).toBe(0);
    });

    it('leaves it open when another turn waits on it', async () => {
      const s = await start();
      await enqueue({ prompt: 'waiting' });
      const r = await finish(s.lease, s.turn.id, { closeIfQuiet: 'context' });
      expect(r.session).toMatchObject({ status: 'idle', closeReason: null, queued: 1 });
    });
  });
}
