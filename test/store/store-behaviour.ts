/**
 * The shared behaviour suite of the Store port. Written only against `src/store/store.ts`, so
 * every adapter (SQLite, PostgreSQL) runs this same file through its own test file:
 *
 *   describeStoreBehaviour('sqlite file', async (clock) => ({ store, reopen, cleanup }));
 *
 * Time is a ManualClock the adapter must use for `now()`: tests move it instead of sleeping.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { Lease, SessionRecord, TurnRecord, TurnStatus, Usage } from '../../src/domain/types.js';
import type { AcquireLeaseResult, EnqueueTurnInput, EnqueueTurnResult, FinishTurnInput, ImportSessionInput, Store } from '../../src/store/store.js';
import { enqueueInput } from './fixtures.js';

export interface StoreHarness {
  store: Store;
  /** Closes the store and opens it again on the same data; absent for adapters without durable data. */
  reopen?: () => Promise<Store>;
  /** Closes whatever is open (it may already be closed) and removes the data. */
  cleanup: () => Promise<void>;
}

const OWNER = 'host-a:100:n1';
const OTHER_OWNER = 'host-b:200:n2';
const TTL = 30_000;
const INTERRUPTED = { code: 'INTERRUPTED', message: 'the broker restarted' };

function usage(input: number, output: number, costUsd: number): Usage {
  return { inputTokens: input, outputTokens: output, cacheReadTokens: input * 2, cacheWriteTokens: 1, costUsd };
}

function acquired(result: AcquireLeaseResult): Extract<AcquireLeaseResult, { status: 'acquired' }> {
  if (result.status !== 'acquired') throw new Error(`expected the lease to be acquired, got ${result.status}`);
  return result;
}

export function describeStoreBehaviour(name: string, open: (clock: ManualClock) => Promise<StoreHarness>): void {
  describe(`Store behaviour: ${name}`, () => {
    let clock: ManualClock;
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      clock = new ManualClock();
      harness = await open(clock);
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    // --- helpers -------------------------------------------------------------------------

    const enqueue = (over: Partial<EnqueueTurnInput> = {}): Promise<EnqueueTurnResult> =>
      store.enqueueTurn(
        enqueueInput({ key: 'chat:1', config: { cwd: '/tmp/work', model: 'claude-sonnet-4-5' }, prompt: 'hello', owner: OWNER, maxQueue: 50, idleTimeoutMs: 0, ...over }),
      );

    /** Enqueues and acquires: the turn is running under the returned lease. */
    const start = async (over: Partial<EnqueueTurnInput> = {}, owner = OWNER, ttlMs = TTL) => {
      const enq = await enqueue(over);
      const got = acquired(await store.acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner, ttlMs }));
      return { enq, ...got };
    };

    const finish = (lease: Lease, turnId: string, over: Partial<FinishTurnInput> = {}) =>
      store.finishTurn({ lease, turnId, status: 'succeeded', text: 'ok', idleTimeoutMs: 0, ...over });

    /** A whole successful turn; leaves the session quiet. */
    const runTurn = async (over: Partial<EnqueueTurnInput> = {}, finishOver: Partial<FinishTurnInput> = {}) => {
      const s = await start(over);
      return finish(s.lease, s.turn.id, { idleTimeoutMs: over.idleTimeoutMs ?? 0, ...finishOver });
    };

    const allTurns = (key: string, tenant = 'default') => store.listTurns({ tenant, key });

    // --- enqueue -------------------------------------------------------------------------

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

    // --- leases --------------------------------------------------------------------------

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
        const next = await enqueue({ leaseTtlMs: TTL });
        expect(next.lease?.epoch).toBe(2);
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

    // --- finishing turns -----------------------------------------------------------------

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

    // --- idle TTL ------------------------------------------------------------------------

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

    // --- cap and LRU eviction ------------------------------------------------------------

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

    // --- rotation ------------------------------------------------------------------------

    describe('rotate hook', () => {
      it('closes the quiet session for the reason given and opens a new generation with the given config', async () => {
        const first = await runTurn({}, { context: { tokens: 190_000, window: 200_000, ratio: 0.95 } });
        const seen: SessionRecord[] = [];
        const r = await enqueue({
          config: { cwd: '/tmp/rotated' },
          rotate: (s) => {
            seen.push(s);
            return s.context.ratio > 0.9 ? 'context' : null;
          },
        });
        expect(seen.map((s) => s.id)).toEqual([first.session.id]);
        expect(r.created).toBe(true);
        expect(r.closed).toHaveLength(1);
        expect(r.closed[0]).toMatchObject({ id: first.session.id, status: 'closed', closeReason: 'context' });
        expect(r.session).toMatchObject({ generation: 2, config: { cwd: '/tmp/rotated' }, context: { tokens: 0, window: 0, ratio: 0 } });
        expect(r.turn.seq).toBe(2);
      });

      it('keeps the session when rotate answers null', async () => {
        const first = await runTurn();
        const r = await enqueue({ rotate: () => null });
        expect(r.created).toBe(false);
        expect(r.session.id).toBe(first.session.id);
      });

      it('is not asked while the session is busy', async () => {
        await start();
        let asked = 0;
        const r = await enqueue({
          rotate: () => {
            asked += 1;
            return 'context';
          },
        });
        expect(asked).toBe(0);
        expect(r.created).toBe(false);
      });
    });

    // --- recovery ------------------------------------------------------------------------

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
        expect(await store.recover({ isOwnerAlive: () => true, error: INTERRUPTED })).toEqual({ interrupted: [], freed: 0, adopted: [] });
        clock.advance(1000);
        const r = await store.recover({ isOwnerAlive: () => true, error: INTERRUPTED });
        expect(r.freed).toBe(1);
        expect(r.interrupted.map((t) => t.id)).toEqual([s.turn.id]);
        expect(await store.getSession(s.session.id)).toMatchObject({ status: 'idle', lease: null });
      });
    });

    // --- close and delete ----------------------------------------------------------------

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

    // --- reading -------------------------------------------------------------------------

    describe('listing', () => {
      it('lists the latest generation of each key, most recently active first, with filters', async () => {
        await runTurn({ key: 'a', labels: { team: 'web', env: 'prod' } });
        clock.advance(10);
        await runTurn({ key: 'b', labels: { team: 'web', env: 'dev' } });
        clock.advance(10);
        await runTurn({ key: 'c', labels: { team: 'api' } });
        clock.advance(10);
        await runTurn({ tenant: 'other', key: 'a', labels: { team: 'web' } });
        clock.advance(10);
        await store.closeSession('default', 'a', 'reset');
        clock.advance(10);
        const a2 = await runTurn({ key: 'a', labels: { team: 'web', env: 'prod' } });

        const keys = (list: SessionRecord[]) => list.map((s) => `${s.tenant}/${s.key}`);
        const all = await store.listSessions({});
        expect(keys(all)).toEqual(['default/a', 'other/a', 'default/c', 'default/b']);
        expect(all[0]?.id).toBe(a2.session.id);
        expect(keys(await store.listSessions({ tenant: 'default' }))).toEqual(['default/a', 'default/c', 'default/b']);
        expect(keys(await store.listSessions({ labels: { team: 'web' } }))).toEqual(['default/a', 'other/a', 'default/b']);
        expect(keys(await store.listSessions({ labels: { team: 'web', env: 'prod' } }))).toEqual(['default/a']);
        expect(keys(await store.listSessions({ labels: { team: 'nope' } }))).toEqual([]);
        expect(keys(await store.listSessions({ tenant: 'default', limit: 1, offset: 1 }))).toEqual(['default/c']);
        expect(keys(await store.listSessions({ key: 'a' }))).toEqual(['default/a', 'other/a']);

        await store.closeSession('default', 'c', 'reset');
        expect(keys(await store.listSessions({ status: 'closed' }))).toEqual(['default/c']);
        expect(keys(await store.listSessions({ status: 'idle', tenant: 'default' }))).toEqual(['default/a', 'default/b']);
      });

      it('lists the turns of a key across generations in sequence order', async () => {
        await runTurn({ prompt: 'one' });
        await runTurn({ prompt: 'two' });
        await store.closeSession('default', 'chat:1', 'reset');
        await runTurn({ prompt: 'three' });
        await enqueue({ prompt: 'four' });
        await runTurn({ key: 'other', prompt: 'elsewhere' });

        const turns = await allTurns('chat:1');
        expect(turns.map((t) => [t.seq, t.prompt])).toEqual([
          [1, 'one'],
          [2, 'two'],
          [3, 'three'],
          [4, 'four'],
        ]);
        expect(new Set(turns.map((t) => t.sessionId)).size).toBe(2);
        expect((await store.listTurns({ tenant: 'default', key: 'chat:1', afterSeq: 2 })).map((t) => t.seq)).toEqual([3, 4]);
        expect((await store.listTurns({ tenant: 'default', key: 'chat:1', afterSeq: 1, limit: 2 })).map((t) => t.seq)).toEqual([2, 3]);
        expect(await store.listTurns({ tenant: 'default', key: 'nobody' })).toEqual([]);
      });

      it('returns null for unknown ids and keys', async () => {
        expect(await store.getSession(randomUUID())).toBeNull();
        expect(await store.getTurn(randomUUID())).toBeNull();
        expect(await store.getLiveSession('default', 'none')).toBeNull();
        expect(await store.getLatestSession('default', 'none')).toBeNull();
      });
    });

    describe('stats', () => {
      it('starts at zero', async () => {
        const stats = await store.stats();
        expect(stats.sessions).toEqual({
          live: 0,
          byStatus: { idle: 0, running: 0, expired: 0, closed: 0, error: 0 },
          created: 0,
          expired: 0,
          evicted: 0,
          reset: 0,
        });
        expect(stats.turns).toEqual({ queued: 0, running: 0, succeeded: 0, failed: 0, interrupted: 0 });
        expect(stats.usage).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 });
      });

      it('matches reality after a mixed scenario', async () => {
        const idle = { idleTimeoutMs: 1000, maxSessions: 7 };
        await runTurn({ key: 'k1', ...idle }, { usage: usage(10, 1, 0.1) });
        await runTurn({ key: 'k1', ...idle }, { usage: usage(20, 2, 0.2) });
        await runTurn({ key: 'k2', ...idle }, { status: 'failed', error: { code: 'AGENT_FAILED', message: 'x' }, usage: usage(5, 0, 0.05) });
        await enqueue({ key: 'k3', ...idle });
        await start({ key: 'k4', ...idle });
        await runTurn({ key: 'k5', ...idle });
        await store.closeSession('default', 'k5', 'reset');
        await runTurn({ tenant: 'beta', key: 'k1', ...idle }, { usage: usage(1, 1, 0.000001) });
        const stale = await start({ tenant: 'beta', key: 'k2', ...idle }, OTHER_OWNER);
        await store.abandonTurn((await enqueue({ tenant: 'beta', key: 'k2', ...idle })).turn.id, INTERRUPTED);
        clock.advance(500);
        await runTurn({ key: 'k6', ...idle });
        await runTurn({ key: 'k7', ...idle }); // the 8th live session: k1, the least recently used quiet one, goes
        clock.advance(600);
        await store.sweepExpired(100); // k2 and beta/k1 are due; k3 (queued) and beta/k2 (running) are busy
        await store.recover({ isOwnerAlive: (o) => o !== OTHER_OWNER, error: INTERRUPTED });
        await finish(stale.lease, stale.turn.id).catch(() => undefined);

        const stats = await store.stats();
        const sessions = await store.listSessions({});
        const liveSessions = sessions.filter((s) => s.status === 'idle' || s.status === 'running');
        expect(stats.sessions.live).toBe(liveSessions.length);
        expect(stats.sessions.byStatus.idle + stats.sessions.byStatus.running).toBe(liveSessions.length);
        for (const status of ['idle', 'running', 'expired', 'closed'] as const) {
          expect(stats.sessions.byStatus[status]).toBe(sessions.filter((s) => s.status === status).length);
        }
        expect(stats.sessions).toMatchObject({ created: 9, reset: 1, evicted: 1, expired: 2 });

        const turns: TurnRecord[] = [];
        for (const s of sessions) turns.push(...(await store.listTurns({ tenant: s.tenant, key: s.key })));
        const count = (status: TurnStatus) => turns.filter((t) => t.status === status).length;
        expect(stats.turns).toEqual({
          queued: count('queued'),
          running: count('running'),
          succeeded: count('succeeded'),
          failed: count('failed'),
          interrupted: count('interrupted'),
        });
        expect(stats.usage).toEqual({ inputTokens: 36, outputTokens: 4, cacheReadTokens: 72, cacheWriteTokens: 4, costUsd: 0.350001 });

        const beta = await store.stats('beta');
        expect(beta.sessions.live).toBe(liveSessions.filter((s) => s.tenant === 'beta').length);
        expect(beta.usage.costUsd).toBe(0.000001);
        expect(beta.turns.interrupted).toBe(2);
      });
    });

    // --- transcript mirror ---------------------------------------------------------------

    describe('transcripts', () => {
      const entry = (uuid: string | undefined, text: string) => ({
        type: 'user',
        ...(uuid ? { uuid } : {}),
        timestamp: '2026-01-01T00:00:00.000Z',
        message: { role: 'user', content: [{ type: 'text', text }] },
        nested: { list: [1, 2, { deep: true }], unicode: 'ü—🙂\u0000' },
      });

      it('appends in order and loads the entries deep-equal; null for a transcript never written', async () => {
        const ref = { agentSessionId: 'conv-1' };
        expect(await store.loadTranscript(ref)).toBeNull();
        await store.appendTranscript(ref, 'proj', [entry('u1', 'one'), entry('u2', 'two')]);
        await store.appendTranscript(ref, 'proj', [{ type: 'custom-title', title: 'no uuid' }, entry('u3', 'three')]);
        expect(await store.loadTranscript(ref)).toEqual([entry('u1', 'one'), entry('u2', 'two'), { type: 'custom-title', title: 'no uuid' }, entry('u3', 'three')]);
        await store.appendTranscript({ agentSessionId: 'conv-empty' }, 'proj', []);
        expect(await store.loadTranscript({ agentSessionId: 'conv-empty' })).toEqual([]);
      });

      it('treats uuid as an idempotency key; entries without one are always appended', async () => {
        const ref = { agentSessionId: 'conv-2' };
        await store.appendTranscript(ref, 'proj', [entry('u1', 'one'), entry('u2', 'two')]);
        // A retried batch, and a replay overlapping it with one new entry.
        await store.appendTranscript(ref, 'proj', [entry('u1', 'one'), entry('u2', 'two')]);
        await store.appendTranscript(ref, 'proj', [entry('u2', 'two'), entry('u3', 'three'), { type: 'tag', tag: 't' }, { type: 'tag', tag: 't' }]);
        const loaded = await store.loadTranscript(ref);
        expect(loaded?.map((e) => e.uuid ?? e.type)).toEqual(['u1', 'u2', 'u3', 'tag', 'tag']);
        // The same uuid in another conversation is another entry.
        await store.appendTranscript({ agentSessionId: 'conv-3' }, 'proj', [entry('u1', 'one')]);
        expect(await store.loadTranscript({ agentSessionId: 'conv-3' })).toHaveLength(1);
      });

      it('keeps subagent transcripts apart under their subpath', async () => {
        await store.appendTranscript({ agentSessionId: 'conv-4' }, 'proj', [entry('m1', 'main')]);
        await store.appendTranscript({ agentSessionId: 'conv-4', subpath: 'subagents/agent-b' }, 'proj', [entry('s1', 'sub b')]);
        await store.appendTranscript({ agentSessionId: 'conv-4', subpath: 'subagents/agent-a' }, 'proj', [entry('m1', 'same uuid, other file')]);
        expect(await store.loadTranscript({ agentSessionId: 'conv-4' })).toEqual([entry('m1', 'main')]);
        expect(await store.loadTranscript({ agentSessionId: 'conv-4', subpath: 'subagents/agent-a' })).toEqual([entry('m1', 'same uuid, other file')]);
        expect(await store.listTranscriptSubpaths('conv-4')).toEqual(['subagents/agent-a', 'subagents/agent-b']);
        expect(await store.listTranscriptSubpaths('nobody')).toEqual([]);
      });

      it('lists main transcripts by project key with the store time of their last append', async () => {
        clock.set(1_000_000);
        await store.appendTranscript({ agentSessionId: 'a' }, 'proj-x', [entry('1', 'x')]);
        await store.appendTranscript({ agentSessionId: 'a', subpath: 'subagents/s' }, 'proj-x', [entry('2', 'x')]);
        clock.advance(5000);
        await store.appendTranscript({ agentSessionId: 'b' }, 'proj-x', [entry('3', 'x')]);
        await store.appendTranscript({ agentSessionId: 'c' }, 'proj-y', [entry('4', 'y')]);
        const listed = (await store.listTranscripts('proj-x')).sort((p, q) => p.agentSessionId.localeCompare(q.agentSessionId));
        expect(listed).toEqual([
          { agentSessionId: 'a', mtime: 1_000_000 },
          { agentSessionId: 'b', mtime: 1_005_000 },
        ]);
        expect(await store.listTranscripts('nothing')).toEqual([]);
      });

      it('deletes one subpath, or a whole conversation', async () => {
        await store.appendTranscript({ agentSessionId: 'd' }, 'p', [entry('1', 'x'), entry('2', 'y')]);
        await store.appendTranscript({ agentSessionId: 'd', subpath: 'subagents/s' }, 'p', [entry('3', 'z')]);
        await store.appendTranscript({ agentSessionId: 'other' }, 'p', [entry('1', 'x')]);
        expect(await store.deleteTranscript({ agentSessionId: 'd', subpath: 'subagents/s' })).toBe(1);
        expect(await store.listTranscriptSubpaths('d')).toEqual([]);
        expect(await store.loadTranscript({ agentSessionId: 'd' })).toHaveLength(2);
        expect(await store.deleteTranscript({ agentSessionId: 'd' })).toBe(2);
        expect(await store.loadTranscript({ agentSessionId: 'd' })).toBeNull();
        expect(await store.deleteTranscript({ agentSessionId: 'd' })).toBe(0);
        expect(await store.loadTranscript({ agentSessionId: 'other' })).toHaveLength(1);
      });

      it("deleteKey removes the transcripts of the key's conversations and no others", async () => {
        await runTurn({ key: 'gone' }, { agentSessionId: 'conv-gone' });
        await runTurn({ key: 'kept' }, { agentSessionId: 'conv-kept' });
        await store.appendTranscript({ agentSessionId: 'conv-gone' }, 'p', [entry('1', 'x')]);
        await store.appendTranscript({ agentSessionId: 'conv-gone', subpath: 'subagents/s' }, 'p', [entry('2', 'x')]);
        await store.appendTranscript({ agentSessionId: 'conv-kept' }, 'p', [entry('1', 'x')]);
        expect(await store.deleteKey('default', 'gone')).toBe(1);
        expect(await store.loadTranscript({ agentSessionId: 'conv-gone' })).toBeNull();
        expect(await store.loadTranscript({ agentSessionId: 'conv-gone', subpath: 'subagents/s' })).toBeNull();
        expect(await store.loadTranscript({ agentSessionId: 'conv-kept' })).toHaveLength(1);
      });

      it('keeps transcripts across a reopen', async ({ skip }) => {
        if (!harness.reopen) {
          skip('this adapter keeps no data across a reopen');
          return;
        }
        await store.appendTranscript({ agentSessionId: 'r' }, 'p', [entry('1', 'x')]);
        store = await harness.reopen();
        await store.appendTranscript({ agentSessionId: 'r' }, 'p', [entry('1', 'x'), entry('2', 'y')]);
        expect((await store.loadTranscript({ agentSessionId: 'r' }))?.map((e) => e.uuid)).toEqual(['1', '2']);
      });
    });

    // --- session operations: update, import, quotas, metadata, turn time -----------------------

    describe('session operations', () => {
      const imported = (over: Partial<ImportSessionInput> = {}): ImportSessionInput => ({
        tenant: 'default',
        key: 'copy:1',
        newSessionId: randomUUID(),
        backend: 'claude',
        agentSessionId: 'conv-copy',
        config: { cwd: '/tmp/work', model: 'm1' },
        labels: { user: 'ada' },
        metadata: { taskId: 'T-9', nested: { n: 1 } },
        usage: usage(100, 10, 0.5),
        context: { tokens: 1200, window: 200_000, ratio: 0.006 },
        turns: [
          { prompt: 'one', status: 'succeeded', text: 'r1', error: null, usage: usage(50, 5, 0.25), createdAt: 1, startedAt: 2, endedAt: 3 },
          { prompt: 'two', status: 'failed', text: null, error: { code: 'AGENT_FAILED', message: 'x' }, usage: null, createdAt: 4, startedAt: 5, endedAt: 6 },
        ],
        replace: false,
        maxSessions: 1000,
        onLimit: 'evict-lru',
        idleTimeoutMs: 0,
        ...over,
      });

      it('updates config fields, merges labels and metadata (null removes), and leaves the rest', async () => {
        await enqueue({ labels: { user: 'ada', team: 'x' }, metadata: { taskId: 'T-1', keep: true } });
        const updated = await store.updateSession('default', 'chat:1', {
          config: { model: 'other-model', permissionMode: 'plan' },
          labels: { team: null, channel: 'c1' },
          metadata: { taskId: 'T-2', keep: null, mcpSessionId: 'mcp-1' },
        });
        expect(updated.config).toEqual({ cwd: '/tmp/work', model: 'other-model', permissionMode: 'plan' });
        expect(updated.labels).toEqual({ user: 'ada', channel: 'c1' });
        expect(updated.metadata).toEqual({ taskId: 'T-2', mcpSessionId: 'mcp-1' });
        expect(await store.getLiveSession('default', 'chat:1')).toEqual(updated);
        await expect(store.updateSession('default', 'nope', { labels: { a: 'b' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });

      it('keeps metadata across generations and finds sessions by top-level metadata values', async () => {
        await runTurn({ key: 'm:1', metadata: { taskId: 'T-1', n: 3, ok: true } });
        await runTurn({ key: 'm:2', metadata: { taskId: 'T-2', n: 3.5, ok: false } });
        const keys = async (metadata: Record<string, string | number | boolean>) =>
          (await store.listSessions({ tenant: 'default', metadata })).map((s) => s.key).sort();
        expect(await keys({ taskId: 'T-1' })).toEqual(['m:1']);
        expect(await keys({ n: 3 })).toEqual(['m:1']);
        expect(await keys({ n: 3.5 })).toEqual(['m:2']);
        expect(await keys({ ok: true })).toEqual(['m:1']);
        expect(await keys({ ok: false })).toEqual(['m:2']);
        expect(await keys({ taskId: 'nope' })).toEqual([]);
        await store.closeSession('default', 'm:1', 'reset');
        const next = await enqueue({ key: 'm:1', metadata: { extra: 'x' } });
        expect(next.session.metadata).toEqual({ taskId: 'T-1', n: 3, ok: true, extra: 'x' });
      });

      it('enforces label quotas per value on creation and on label changes', async () => {
        const quotas = { user: 2 };
        await enqueue({ key: 'q:1', labels: { user: 'ada' }, labelQuotas: quotas });
        await enqueue({ key: 'q:2', labels: { user: 'ada' }, labelQuotas: quotas });
        await expect(enqueue({ key: 'q:3', labels: { user: 'ada' }, labelQuotas: quotas })).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
        expect(await store.getLiveSession('default', 'q:3')).toBeNull();
        // Another value, another tenant, and a new turn of a counted session are all fine.
        await enqueue({ key: 'q:3', labels: { user: 'bob' }, labelQuotas: quotas });
        await enqueue({ key: 'q:4', tenant: 'beta', labels: { user: 'ada' }, labelQuotas: quotas });
        await enqueue({ key: 'q:1', labels: { user: 'ada' }, labelQuotas: quotas });
        await expect(store.updateSession('default', 'q:3', { labels: { user: 'ada' }, labelQuotas: quotas })).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
        expect((await store.getLiveSession('default', 'q:3'))?.labels).toEqual({ user: 'bob' });
        // Relabelling a session that is already counted does not count it twice.
        await store.updateSession('default', 'q:1', { labels: { user: 'ada', extra: 'y' }, labelQuotas: quotas });
      });

      it('imports a session with its conversation, config, labels, metadata, usage and ended turns', async () => {
        const bundle = imported();
        const { session, closed } = await store.importSession(bundle);
        expect(closed).toEqual([]);
        // What the bundle carried, the session has.
        const { key, agentSessionId, config, labels, metadata, usage: spent, context } = bundle;
        expect(session).toMatchObject({
          key,
          agentSessionId,
          config,
          labels,
          metadata,
          usage: spent,
          context,
          status: 'idle',
          generation: 1,
          turns: 2,
          queued: 0,
          lease: null,
        });
        const turns = await allTurns('copy:1');
        expect(turns.map((t) => [t.seq, t.prompt, t.status, t.text, t.error?.code ?? null])).toEqual([
          [1, 'one', 'succeeded', 'r1', null],
          [2, 'two', 'failed', null, 'AGENT_FAILED'],
        ]);
        expect(turns[0]!.usage).toEqual(bundle.turns[0]!.usage);
        // The next turn follows the imported ones and continues the conversation.
        const next = await runTurn({ key: 'copy:1' });
        expect(next.turn.seq).toBe(3);
        expect(next.session.agentSessionId).toBe('conv-copy');
        expect((await store.stats()).sessions.created).toBe(1);
      });

      it('refuses to import over a live key unless asked to replace it, and never over a busy one', async () => {
        await runTurn({ key: 'copy:1' });
        await expect(store.importSession(imported())).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        expect((await store.getLiveSession('default', 'copy:1'))?.generation).toBe(1);
        const { session, closed } = await store.importSession(imported({ replace: true }));
        expect(closed.map((c) => [c.generation, c.closeReason])).toEqual([[1, 'reset']]);
        expect(session.generation).toBe(2);
        expect((await allTurns('copy:1')).map((t) => t.seq)).toEqual([1, 2, 3]);
        await enqueue({ key: 'copy:1' });
        await expect(store.importSession(imported({ replace: true }))).rejects.toMatchObject({ code: 'SESSION_BUSY' });
      });

      it('applies the session cap and label quotas to imports', async () => {
        await runTurn({ key: 'old' });
        const { closed } = await store.importSession(imported({ maxSessions: 1 }));
        expect(closed.map((c) => [c.key, c.closeReason])).toEqual([['old', 'evicted']]);
        await expect(store.importSession(imported({ key: 'copy:2', maxSessions: 1, onLimit: 'reject' }))).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
        await expect(store.importSession(imported({ key: 'copy:3', labelQuotas: { user: 1 } }))).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
      });

      it('sums the time of turns that ran to an end', async () => {
        const s = await start({ key: 't:1' });
        clock.advance(1_500);
        await finish(s.lease, s.turn.id);
        const q = await enqueue({ key: 't:2' });
        await store.abandonTurn(q.turn.id, INTERRUPTED);
        expect((await store.stats()).turnTime).toEqual({ totalMs: 1_500, turns: 1 });
        expect((await store.stats('nobody')).turnTime).toEqual({ totalMs: 0, turns: 0 });
      });

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

    // --- shared event journal --------------------------------------------------------------

    describe('shared events', () => {
      const ev = (turnId: string | null, n: number, origin = OWNER, tenant = 'default', seq: number | null = turnId ? n : null) => ({
        tenant,
        turnId,
        seq,
        origin,
        event: { type: turnId ? 'text.delta' : 'session.created', n, text: `ü ${n}`, nested: { a: [n] } },
      });

      it('appends in order with rising ids; reads after an id, by turn or all, leaving out an origin', async () => {
        expect(await store.lastEventId()).toBe(0);
        await store.appendEvents([ev('t1', 1), ev('t2', 2, OTHER_OWNER), ev(null, 3)]);
        await store.appendEvents([ev('t1', 4, OTHER_OWNER, 'beta')]);
        await store.appendEvents([]);
        const all = await store.readEvents({ afterId: 0, limit: 100 });
        expect(all.map((e) => (e.event as { n: number }).n)).toEqual([1, 2, 3, 4]);
        expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
        expect(new Set(all.map((e) => e.id)).size).toBe(4);
        expect(all[3]).toMatchObject({ tenant: 'beta', turnId: 't1', origin: OTHER_OWNER, event: ev('t1', 4).event });
        expect(await store.lastEventId()).toBe(all[3]!.id);

        expect((await store.readEvents({ afterId: all[0]!.id, limit: 100 })).map((e) => (e.event as { n: number }).n)).toEqual([2, 3, 4]);
        expect((await store.readEvents({ afterId: 0, limit: 2 })).map((e) => (e.event as { n: number }).n)).toEqual([1, 2]);
        expect((await store.readEvents({ afterId: 0, limit: 100, excludeOrigin: OWNER })).map((e) => (e.event as { n: number }).n)).toEqual([2, 4]);
      });

      it("reads one turn's events by their number in the turn, whoever wrote them; the first writer of a number wins", async () => {
        await store.appendEvents([ev('t1', 1, OWNER, 'default', 1), ev('t2', 5, OWNER, 'default', 1), ev('t1', 2, OWNER, 'default', 2)]);
        // Another node continues the turn (adopted): its numbers go on; a late duplicate of a number is left out.
        await store.appendEvents([ev('t1', 3, OTHER_OWNER, 'default', 3), ev('t1', 99, OTHER_OWNER, 'default', 2), ev(null, 7)]);
        const t1 = await store.readEvents({ turnId: 't1', afterSeq: 0, limit: 100 });
        expect(t1.map((e) => [e.seq, (e.event as { n: number }).n])).toEqual([[1, 1], [2, 2], [3, 3]]);
        expect((await store.readEvents({ turnId: 't1', afterSeq: 1, limit: 1 })).map((e) => e.seq)).toEqual([2]);
        expect(await store.lastEventSeq('t1')).toBe(3);
        expect(await store.lastEventSeq('t2')).toBe(1);
        expect(await store.lastEventSeq('none')).toBe(0);
        const tail = await store.readEvents({ afterId: 0, limit: 100 });
        expect(tail.map((e) => (e.event as { n: number }).n)).toEqual([1, 5, 2, 3, 7]);
        expect(tail.at(-1)).toMatchObject({ turnId: null, seq: null });
      });

      it('prunes events older than a given age, by the store clock', async () => {
        await store.appendEvents([ev('t1', 1)]);
        clock.advance(60_000);
        await store.appendEvents([ev('t1', 2)]);
        expect(await store.pruneEvents(30_000)).toBe(1);
        expect((await store.readEvents({ afterId: 0, limit: 10 })).map((e) => (e.event as { n: number }).n)).toEqual([2]);
      });
    });

    // --- nodes ---------------------------------------------------------------------------

    describe('usage limits', () => {
      it('keeps the latest reset time of each backend, for every reader', async () => {
        expect(await store.getUsageLimit('claude')).toBeNull();
        await store.setUsageLimit('claude', 5_000_000, 'five-hour limit');
        await store.setUsageLimit('claude', 4_000_000, 'an older answer');
        expect(await store.getUsageLimit('claude')).toEqual({ until: 5_000_000, reason: 'five-hour limit' });
        await store.setUsageLimit('claude', 9_000_000, 'weekly limit');
        expect(await store.getUsageLimit('claude')).toEqual({ until: 9_000_000, reason: 'weekly limit' });
        expect(await store.getUsageLimit('codex')).toBeNull();
        if (harness.reopen) store = await harness.reopen();
        expect(await store.getUsageLimit('claude')).toEqual({ until: 9_000_000, reason: 'weekly limit' });
      });
    });

    describe('nodes', () => {
      it('lists owners whose heartbeat has not expired, by the store clock', async () => {
        await store.heartbeat(OWNER, 10_000);
        await store.heartbeat(OTHER_OWNER, 30_000);
        expect(await store.liveOwners()).toEqual([OWNER, OTHER_OWNER].sort());
        clock.advance(10_000);
        expect(await store.liveOwners()).toEqual([OTHER_OWNER]);
        // A beat extends; ttl 0 removes at once.
        await store.heartbeat(OWNER, 60_000);
        expect(await store.liveOwners()).toEqual([OWNER, OTHER_OWNER].sort());
        await store.heartbeat(OTHER_OWNER, 0);
        expect(await store.liveOwners()).toEqual([OWNER]);
      });

      it('runs an exclusive section once at a time, and again after it ended', async () => {
        let release!: () => void;
        const held = store.runExclusive('janitor', () => new Promise<string>((resolve) => (release = () => resolve('first'))));
        await new Promise((r) => setTimeout(r, 50));
        expect(await store.runExclusive('janitor', async () => 'second')).toBeNull();
        expect(await store.runExclusive('other', async () => 'other name')).toBe('other name');
        release();
        expect(await held).toBe('first');
        expect(await store.runExclusive('janitor', async () => 'third')).toBe('third');
      });
    });

    // --- lifecycle -----------------------------------------------------------------------

    describe('lifecycle', () => {
      it('keeps everything across a reopen', async ({ skip }) => {
        if (!harness.reopen) {
          skip('this adapter keeps no data across a reopen');
          return;
        }
        const done = await runTurn({ key: 'a', labels: { x: '1' }, idleTimeoutMs: 5000 }, { usage: usage(10, 1, 0.25), agentSessionId: 'ag' });
        const running = await start({ key: 'b' });
        const waiting = await enqueue({ key: 'b' });
        const statsBefore = await store.stats();
        const listBefore = await store.listSessions({});

        store = await harness.reopen();
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
  });
}
