import { describe, expect, it } from 'vitest';
import { OWNER, acquired, type Suite } from './suite.js';

export function enqueueBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, runTurn, allTurns } = suite;

  describe('enqueueTurn', () => {
    it('creates the session on the first message and journals the turn as queued', async () => {
      const t0 = clock.now();
      const r = await enqueue({ labels: { team: 'web' }, config: { cwd: '/srv/app', maxTurns: 3 } });
      expect(r.created).toBe(true);
      expect(r.closed).toEqual([]);
      expect(r.session).toMatchObject({
        tenant: 'default',
        key: 'chat:1',
        backend: 'claude',
        agentSessionId: null,
        status: 'idle',
        generation: 1,
        config: { cwd: '/srv/app', maxTurns: 3 },
        labels: { team: 'web' },
        turns: 0,
        turnSeq: 1,
        queued: 1,
        usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
        context: { tokens: 0, window: 0, ratio: 0 },
        createdAt: t0,
        lastActiveAt: t0,
        expiresAt: null,
        closedAt: null,
        closeReason: null,
        lease: null,
      });
      expect(r.turn).toMatchObject({
        sessionId: r.session.id,
        tenant: 'default',
        key: 'chat:1',
        seq: 1,
        prompt: 'hello',
        status: 'queued',
        owner: OWNER,
        epoch: null,
        text: null,
        error: null,
        usage: null,
        context: null,
        createdAt: t0,
        startedAt: null,
        endedAt: null,
      });
      expect(await store.getLiveSession('default', 'chat:1')).toEqual(r.session);
      expect(await store.getTurn(r.turn.id)).toEqual(r.turn);
      expect(await store.now()).toBe(t0);
    });

    it('adds later messages to the same live session with the next sequence number', async () => {
      const a = await enqueue();
      clock.advance(10);
      const b = await enqueue({ prompt: 'second' });
      expect(b.created).toBe(false);
      expect(b.session.id).toBe(a.session.id);
      expect(b.turn.seq).toBe(2);
      expect(b.session).toMatchObject({ queued: 2, turnSeq: 2, lastActiveAt: clock.now() });
    });

    it('makes one session for twenty concurrent first messages, with unique sequence numbers', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => enqueue({ prompt: `p${i}` })));
      expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.map((r) => r.turn.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const live = await store.getLiveSession('default', 'chat:1');
      expect(live).toMatchObject({ queued: 20, turnSeq: 20 });
      const stats = await store.stats();
      expect(stats.sessions).toMatchObject({ live: 1, created: 1 });
      expect(stats.turns.queued).toBe(20);
    });

    it('keeps tenants apart: the same key in two tenants is two sessions', async () => {
      const a = await enqueue({ tenant: 'acme' });
      const b = await enqueue({ tenant: 'globex' });
      expect(a.session.id).not.toBe(b.session.id);
      expect(b.created).toBe(true);
      expect(b.turn.seq).toBe(1);
      expect((await store.getLiveSession('acme', 'chat:1'))?.id).toBe(a.session.id);
      expect((await store.getLiveSession('globex', 'chat:1'))?.id).toBe(b.session.id);
      expect(await allTurns('chat:1', 'acme')).toHaveLength(1);
      expect((await store.stats('acme')).sessions.live).toBe(1);
      expect((await store.stats()).sessions.live).toBe(2);
    });

    it('throws SESSION_BUSY with onBusy reject while a turn runs, changing nothing', async () => {
      const s = await start();
      const before = await store.getSession(s.session.id);
      await expect(enqueue({ onBusy: 'reject' })).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      expect(await store.getSession(s.session.id)).toEqual(before);
      expect(await allTurns('chat:1')).toHaveLength(1);
      expect((await store.stats()).turns.queued).toBe(0);
    });

    it('throws SESSION_BUSY with onBusy reject while a turn waits, changing nothing', async () => {
      const first = await enqueue();
      await expect(enqueue({ onBusy: 'reject' })).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      expect(await store.getSession(first.session.id)).toEqual(first.session);
      expect(await allTurns('chat:1')).toHaveLength(1);
    });

    it('accepts onBusy reject on a quiet session, and on one whose lease expired', async () => {
      await runTurn();
      const ok = await enqueue({ onBusy: 'reject' });
      expect(ok.turn.seq).toBe(2);
      acquired(await store.acquireLease({ sessionId: ok.session.id, turnId: ok.turn.id, owner: OWNER, ttlMs: 1000 }));
      clock.advance(1000);
      const again = await enqueue({ onBusy: 'reject' });
      expect(again.turn.seq).toBe(3);
    });

    it('throws QUEUE_FULL when maxQueue turns already wait, changing nothing', async () => {
      const s = await start({ maxQueue: 2 });
      await enqueue({ maxQueue: 2 });
      await enqueue({ maxQueue: 2 });
      const before = await store.getSession(s.session.id);
      await expect(enqueue({ maxQueue: 2 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(await store.getSession(s.session.id)).toEqual(before);
      expect(await allTurns('chat:1')).toHaveLength(3);
    });

    it('slides the idle expiry with each message', async () => {
      const a = await enqueue({ idleTimeoutMs: 1000 });
      expect(a.session.expiresAt).toBe(clock.now() + 1000);
      clock.advance(600);
      const b = await enqueue({ idleTimeoutMs: 1000 });
      expect(b.session.expiresAt).toBe(clock.now() + 1000);
    });
  });
}
