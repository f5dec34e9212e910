import { describe, expect, it } from 'vitest';
import { OTHER_OWNER, OWNER, type Suite } from './suite.js';

export function eventBehaviour(suite: Suite): void {
  const { store, clock } = suite;

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
      expect(t1.map((e) => [e.seq, (e.event as { n: number }).n])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
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
}
