import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { INTERRUPTED, OWNER, TTL, acquired, usage, type Suite } from './suite.js';

export function finishBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish } = suite;

  describe('finishTurn and abandonTurn', () => {
    it('ends the turn, accumulates usage, sets context and agent id, slides expiry, releases the lease', async () => {
      const s1 = await start({ idleTimeoutMs: 60_000 });
      clock.advance(100);
      const r1 = await finish(s1.lease, s1.turn.id, {
        text: 'first answer',
        usage: usage(100, 10, 0.1),
        context: { tokens: 1000, window: 200_000, ratio: 0.005 },
        agentSessionId: 'agent-1',
        idleTimeoutMs: 60_000,
      });
      expect(r1.turn).toMatchObject({
        status: 'succeeded',
        text: 'first answer',
        usage: usage(100, 10, 0.1),
        context: { tokens: 1000, window: 200_000, ratio: 0.005 },
        endedAt: clock.now(),
        error: null,
      });
      expect(r1.session).toMatchObject({
        status: 'idle',
        turns: 1,
        queued: 0,
        agentSessionId: 'agent-1',
        usage: usage(100, 10, 0.1),
        context: { tokens: 1000, window: 200_000, ratio: 0.005 },
        lastActiveAt: clock.now(),
        expiresAt: clock.now() + 60_000,
        lease: null,
      });

      clock.advance(100);
      const s2 = await start({ idleTimeoutMs: 60_000 });
      expect(s2.lease.epoch).toBe(s1.lease.epoch + 1);
      const r2 = await finish(s2.lease, s2.turn.id, {
        status: 'failed',
        text: null,
        error: { code: 'AGENT_FAILED', message: 'boom' },
        usage: usage(50, 5, 0.2),
        context: null,
        idleTimeoutMs: 60_000,
      });
      expect(r2.turn).toMatchObject({ status: 'failed', text: null, error: { code: 'AGENT_FAILED', message: 'boom' } });
      expect(r2.session.usage).toEqual({ inputTokens: 150, outputTokens: 15, cacheReadTokens: 300, cacheWriteTokens: 2, costUsd: 0.3 });
      // No context given: the previous one stays; no agent id given: it stays too.
      expect(r2.session.context).toEqual({ tokens: 1000, window: 200_000, ratio: 0.005 });
      expect(r2.session.agentSessionId).toBe('agent-1');
      expect(r2.session.turns).toBe(2);

      const stats = await store.stats();
      expect(stats.turns).toMatchObject({ succeeded: 1, failed: 1, running: 0, queued: 0 });
      expect(stats.usage).toEqual(r2.session.usage);
    });

    it('leaves the session idle with the next turn still queued', async () => {
      const s = await start();
      const next = await enqueue();
      const r = await finish(s.lease, s.turn.id);
      expect(r.session).toMatchObject({ status: 'idle', queued: 1, lease: null });
      acquired(await store.acquireLease({ sessionId: s.session.id, turnId: next.turn.id, owner: OWNER, ttlMs: TTL }));
    });

    it('abandons a queued turn only', async () => {
      const s = await start();
      const waiting = await enqueue();
      expect(await store.abandonTurn(s.turn.id, INTERRUPTED)).toBe(false);
      expect(await store.abandonTurn(waiting.turn.id, INTERRUPTED)).toBe(true);
      expect(await store.abandonTurn(waiting.turn.id, INTERRUPTED)).toBe(false);
      expect(await store.abandonTurn(randomUUID(), INTERRUPTED)).toBe(false);
      expect(await store.getTurn(waiting.turn.id)).toMatchObject({ status: 'interrupted', error: INTERRUPTED, endedAt: clock.now() });
      expect(await store.getSession(s.session.id)).toMatchObject({ queued: 0, status: 'running' });
      expect((await store.stats()).turns).toMatchObject({ queued: 0, running: 1, interrupted: 1 });
    });
  });
}
