import { describe, expect, it } from 'vitest';
import { OTHER_OWNER, OWNER, type Suite } from './suite.js';

export function eventBehaviour(suite: Suite): void {
  const { store, clock } = suite;

  describe('shared events', () => {
    const ev = (turnId: string | null, n: number, origin = OWNER, tenant = 'default') => ({
      tenant,
      turnId,
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
      expect((await store.readEvents({ afterId: 0, limit: 100, turnId: 't1' })).map((e) => (e.event as { n: number }).n)).toEqual([1, 4]);
      expect((await store.readEvents({ afterId: 0, limit: 100, excludeOrigin: OWNER })).map((e) => (e.event as { n: number }).n)).toEqual([2, 4]);
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
