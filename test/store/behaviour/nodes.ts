import { describe, expect, it } from 'vitest';
import { OTHER_OWNER, OWNER, type Suite } from './suite.js';

export function nodeBehaviour(suite: Suite): void {
  const { store, clock } = suite;

  describe('usage limits', () => {
    it('keeps the latest reset time of each backend, for every reader', async () => {
      expect(await store.getUsageLimit('claude')).toBeNull();
      await store.setUsageLimit('claude', 5_000_000, 'five-hour limit');
      await store.setUsageLimit('claude', 4_000_000, 'an older answer');
      expect(await store.getUsageLimit('claude')).toEqual({ until: 5_000_000, reason: 'five-hour limit' });
      await store.setUsageLimit('claude', 9_000_000, 'weekly limit');
      expect(await store.getUsageLimit('claude')).toEqual({ until: 9_000_000, reason: 'weekly limit' });
      expect(await store.getUsageLimit('codex')).toBeNull();
      if (suite.harness.reopen) await suite.reopen();
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
}
