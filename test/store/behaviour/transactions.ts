import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../../src/domain/types.js';
import type { ImportedTurn } from '../../../src/store/store.js';
import { INTERRUPTED, OTHER_OWNER, OWNER, usage, type Suite } from './suite.js';

/**
 * What the one engine under both adapters could get wrong: each call is one transaction, whole
 * or nothing, read whole by others; the clock read once; statements built for any number of rows.
 */
export function transactionBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, allTurns } = suite;

  describe('transactions', () => {
    it('hides a transaction from a read asked for in its midst, and rolls it back whole when it throws', async () => {
      const a = await start({ key: 'a' }, OWNER);
      const b = await start({ key: 'b' }, OTHER_OWNER);
      const sessionOf: Record<string, SessionRecord> = { [OWNER]: a.session, [OTHER_OWNER]: b.session };
      const statsBefore = await store.stats();
      let freed: SessionRecord | undefined;
      let read: Promise<SessionRecord | null> | undefined;
      // The first owner asked about is dead: recovery frees its lease. Asked about the second,
      // the lease of the first is freed but not committed: a read now, then a failure.
      const err = await store
        .recover({
          isOwnerAlive: (owner) => {
            if (!freed) {
              freed = sessionOf[owner];
              return false;
            }
            read = store.getSession(freed.id);
            throw new Error('the liveness probe broke');
          },
          error: INTERRUPTED,
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'the liveness probe broke' });
      expect(read).toBeDefined();
      expect((await read)?.lease).toEqual(freed!.lease);
      // Nothing of it stayed, and the next calls run.
      expect(await store.getSession(a.session.id)).toEqual(a.session);
      expect(await store.getSession(b.session.id)).toEqual(b.session);
      expect(await store.stats()).toEqual(statsBefore);
      expect(await store.recover({ isOwnerAlive: () => true, error: INTERRUPTED })).toEqual({ interrupted: [], freed: 0, adopted: [], withdrawn: [] });
      await finish(a.lease, a.turn.id);
    });

    it('writes nothing of an enqueue whose rotate hook throws, and takes the next one', async () => {
      const first = await enqueue();
      await store.abandonTurn(first.turn.id, INTERRUPTED);
      const statsBefore = await store.stats();
      const err = await enqueue({
        rotate: () => {
          throw new Error('the context policy broke');
        },
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'the context policy broke' });
      expect(await allTurns('chat:1')).toHaveLength(1);
      expect(await store.stats()).toEqual(statsBefore);
      expect((await enqueue({ rotate: () => 'context' })).session.generation).toBe(2);
    });

    it('reads the clock once per transaction', async () => {
      const t0 = clock.now();
      const first = await enqueue();
      await store.abandonTurn(first.turn.id, INTERRUPTED);
      const r = await enqueue({
        rotate: () => {
          clock.advance(1000);
          return 'context';
        },
      });
      expect(r.closed[0]?.closedAt).toBe(t0);
      expect(r.session.createdAt).toBe(t0);
      expect(r.turn.createdAt).toBe(t0);
    });

    it('keeps every total true under many calls at once', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
      await Promise.all(
        keys.map(async (key) => {
          for (let n = 0; n < 3; n++) {
            const s = await start({ key });
            await Promise.all([store.getLiveSession('default', key), store.stats(), finish(s.lease, s.turn.id, { usage: usage(1, 1, 0.01) })]);
          }
        }),
      );
      const stats = await store.stats();
      const sessions = await store.listSessions({});
      expect(stats.sessions).toMatchObject({ live: 8, created: 8, byStatus: { idle: 8, running: 0 } });
      let turns = 0;
      for (const key of keys) turns += (await allTurns(key)).filter((t) => t.status === 'succeeded').length;
      expect(turns).toBe(24);
      expect(stats.turns).toMatchObject({ succeeded: 24, queued: 0, running: 0 });
      expect(stats.usage.costUsd).toBeCloseTo(0.24, 6);
      expect(sessions.map((s) => [s.key, s.turns]).sort()).toEqual(keys.map((key) => [key, 3]));
    });

    it('imports, appends and journals more rows than one statement takes, in order', async () => {
      const turns: ImportedTurn[] = Array.from({ length: 1_000 }, (_, i) => ({
        prompt: `p${i}`,
        status: i % 7 === 0 ? 'failed' : 'succeeded',
        text: i % 7 === 0 ? null : `r${i}`,
        error: i % 7 === 0 ? { code: 'AGENT_FAILED', message: `x${i}` } : null,
        usage: i % 2 === 0 ? usage(i, 1, 0.001) : null,
        createdAt: i,
        startedAt: i,
        endedAt: i + 1,
      }));
      const { session } = await store.importSession({
        tenant: 'default',
        key: 'bulk',
        newSessionId: randomUUID(),
        backend: 'claude',
        agentSessionId: 'conv-bulk',
        config: { cwd: '/tmp/work' },
        labels: {},
        metadata: {},
        usage: usage(1, 1, 0.01),
        context: { tokens: 1, window: 10, ratio: 0.1 },
        turns,
        replace: false,
        maxSessions: 0,
        onLimit: 'evict-lru',
        idleTimeoutMs: 0,
      });
      expect(session).toMatchObject({ turns: 1_000, turnSeq: 1_000 });
      const journal = await allTurns('bulk');
      expect(journal.map((t) => [t.seq, t.prompt, t.status, t.text, t.error, t.usage])).toEqual(
        turns.map((t, i) => [i + 1, t.prompt, t.status, t.text, t.error, t.usage]),
      );
      expect((await store.stats()).turns).toMatchObject({ succeeded: 857, failed: 143 });

      const line = (uuid: string | null, n: number) => ({ type: 'assistant', ...(uuid ? { uuid } : {}), n });
      const ref = { agentSessionId: 'conv-bulk' };
      const batch = Array.from({ length: 1_500 }, (_, n) => line(n % 10 === 9 ? null : `u${n}`, n));
      await store.appendTranscript(ref, 'proj', batch);
      // A replay of the whole batch with 1,200 more: only the lines without a uuid are added again.
      const more = Array.from({ length: 1_200 }, (_, n) => line(`v${n}`, 1_500 + n));
      await store.appendTranscript(ref, 'proj', [...batch, ...more]);
      const loaded = await store.loadTranscript(ref);
      const repeated = batch.filter((e) => !('uuid' in e));
      expect(loaded).toEqual([...batch, ...repeated, ...more]);

      const events = Array.from({ length: 1_200 }, (_, n) => ({ tenant: 'default', turnId: `t${n % 3}`, seq: Math.floor(n / 3) + 1, origin: OWNER, event: { type: 'text.delta', n } }));
      await store.appendEvents(events);
      const read = await store.readEvents({ afterId: 0, limit: 5_000 });
      expect(read.map((e) => e.event)).toEqual(events.map((e) => e.event));
      expect(read.map((e) => e.id)).toEqual([...read.map((e) => e.id)].sort((x, y) => x - y));
      expect(await store.lastEventId()).toBe(read.at(-1)!.id);
    });
  });
}
