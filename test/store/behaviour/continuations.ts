import { describe, expect, it } from 'vitest';
import type { EnqueueTurnInput } from '../../../src/store/store.js';
import { INTERRUPTED, TTL, type Suite } from './suite.js';

export function continuationBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, runTurn, allTurns } = suite;

  describe('session operations', () => {
    it('journals a regenerating turn on the live session, naming the turn it replaces', async () => {
      await runTurn({ prompt: 'one' });
      const last = await runTurn({ prompt: 'two' });
      const before = await store.getLiveSession('default', 'chat:1');
      const r = await enqueue({ prompt: 'two', regenerates: last.turn.id, onBusy: 'reject' });
      expect(r.created).toBe(false);
      expect(r.closed).toEqual([]);
      expect(r.session.id).toBe(before!.id);
      expect(r.turn).toMatchObject({ seq: 3, prompt: 'two', status: 'queued', regenerates: last.turn.id });
      expect((await store.getTurn(r.turn.id))?.regenerates).toBe(last.turn.id);
      expect((await allTurns('chat:1')).map((t) => t.regenerates)).toEqual([null, null, last.turn.id]);
    });

    it('regenerates on a session past its rotate threshold without rotating it', async () => {
      const last = await runTurn();
      const r = await enqueue({ regenerates: last.turn.id, rotate: () => 'context' });
      expect(r.created).toBe(false);
      expect(r.session.generation).toBe(1);
    });

    it('refuses to regenerate anything but the last ended turn of a quiet live session, changing nothing', async () => {
      const first = await runTurn({ prompt: 'one' });
      const second = await runTurn({ prompt: 'two' });
      const refused = async (over: Partial<EnqueueTurnInput>) => enqueue(over).catch((e: unknown) => e);

      expect(await refused({ regenerates: first.turn.id })).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('only the last reply') });
      expect(await refused({ regenerates: 'no-such-turn' })).toMatchObject({ code: 'INVALID_INPUT' });
      expect(await refused({ key: 'other', regenerates: second.turn.id })).toMatchObject({ code: 'NOT_FOUND' });

      const waiting = await enqueue({ prompt: 'three' });
      expect(await refused({ regenerates: second.turn.id })).toMatchObject({ code: 'SESSION_BUSY' });
      expect(await refused({ regenerates: waiting.turn.id })).toMatchObject({ code: 'SESSION_BUSY' });
      await store.abandonTurn(waiting.turn.id, INTERRUPTED);
      // The abandoned turn is now the last one: the earlier reply is no longer the last.
      expect(await refused({ regenerates: second.turn.id })).toMatchObject({ code: 'INVALID_INPUT' });

      await store.closeSession('default', 'chat:1', 'reset');
      expect(await refused({ regenerates: waiting.turn.id })).toMatchObject({ code: 'NOT_FOUND' });
      expect((await allTurns('chat:1')).map((t) => t.prompt)).toEqual(['one', 'two', 'three']);
      expect(await store.getLiveSession('default', 'chat:1')).toBeNull();
    });

    it('marks a running turn for interruption, and nothing else', async () => {
      const running = await start({ prompt: 'long' });
      const waiting = await enqueue({ prompt: 'next' });
      expect(running.turn.interruptRequested).toBe(false);
      expect(await store.requestInterrupt(waiting.turn.id)).toBe(false);
      expect(await store.requestInterrupt('no-such-turn')).toBe(false);
      expect((await store.renewLease(running.lease, TTL)).interruptRequested).toBeUndefined();
      expect(await store.requestInterrupt(running.turn.id)).toBe(true);
      expect((await store.getTurn(running.turn.id))?.interruptRequested).toBe(true);
      // The holder hears of it with its next renewal.
      expect(await store.renewLease(running.lease, TTL)).toMatchObject({ epoch: running.lease.epoch, interruptRequested: true });
      expect((await store.getTurn(waiting.turn.id))?.interruptRequested).toBe(false);
      const done = await finish(running.lease, running.turn.id, { status: 'interrupted', text: null, error: INTERRUPTED });
      expect(done.turn).toMatchObject({ status: 'interrupted', interruptRequested: true });
      expect(await store.requestInterrupt(running.turn.id)).toBe(false);
    });

    it('puts a requireLive turn on the live session, and refuses one with none or an expired one, changing nothing', async () => {
      expect(await enqueue({ requireLive: true }).catch((e: unknown) => e)).toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.getLatestSession('default', 'chat:1')).toBeNull();
      const first = await runTurn({ idleTimeoutMs: 1_000 });
      const next = await enqueue({ requireLive: true, prompt: 'continue', idleTimeoutMs: 1_000 });
      expect(next).toMatchObject({ created: false, session: { id: first.session.id }, turn: { prompt: 'continue', status: 'queued' } });
      await store.abandonTurn(next.turn.id, INTERRUPTED);
      clock.advance(5_000);
      expect(await enqueue({ requireLive: true, idleTimeoutMs: 1_000 }).catch((e: unknown) => e)).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('expired') });
      expect((await store.getLiveSession('default', 'chat:1'))?.id).toBe(first.session.id);
      expect(await allTurns('chat:1')).toHaveLength(2);
    });

    it('refuses to regenerate on an expired session without closing it on the way', async () => {
      const last = await runTurn({ idleTimeoutMs: 1_000 });
      clock.advance(5_000);
      expect(await enqueue({ regenerates: last.turn.id, idleTimeoutMs: 1_000 }).catch((e: unknown) => e)).toMatchObject({ code: 'NOT_FOUND' });
      expect((await allTurns('chat:1'))).toHaveLength(1);
      // Still the live session, not closed as expired (closing would keep the turn count too).
      expect(await store.getLiveSession('default', 'chat:1')).toMatchObject({ id: last.session.id, status: 'idle', closedAt: null });
      expect((await store.stats()).sessions).toMatchObject({ live: 1, expired: 0 });
    });
  });
}
