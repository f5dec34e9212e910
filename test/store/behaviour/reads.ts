import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord, TurnRecord, TurnStatus } from '../../../src/domain/types.js';
import { INTERRUPTED, OTHER_OWNER, usage, type Suite } from './suite.js';

export function readBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, runTurn, allTurns } = suite;

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

    it('searches keys by prefix, literally and by characters, and filters by agent', async () => {
      for (const key of ['discord:1', 'discord:2', 'Discord:3', 'disc%rd:4', 'slack:1', 'émoji:🙂a', 'émoji:🙂b', 'émojis']) await runTurn({ key });
      const keys = async (keyPrefix: string) => (await store.listSessions({ keyPrefix })).map((s) => s.key).sort();
      expect(await keys('discord:')).toEqual(['discord:1', 'discord:2']);
      // No wildcards, and case counts.
      expect(await keys('disc%')).toEqual(['disc%rd:4']);
      expect(await keys('disc_')).toEqual([]);
      expect(await keys('Disc')).toEqual(['Discord:3']);
      // Characters beyond the BMP count as one, as the databases count them.
      expect(await keys('émoji:🙂')).toEqual(['émoji:🙂a', 'émoji:🙂b']);
      expect(await keys('zzz')).toEqual([]);
      expect((await store.listSessions({ backend: 'claude', keyPrefix: 'slack' })).map((s) => s.key)).toEqual(['slack:1']);
      expect(await store.listSessions({ backend: 'codex' })).toEqual([]);
    });

    it("reads a tenant's ended turns in a window of time, latest first, with their session's agent, model and labels", async () => {
      const t0 = await store.now();
      await runTurn({ key: 'u:1', labels: { user: 'ada' } }, { usage: usage(10, 0, 0.5) });
      clock.advance(1_000);
      await runTurn({ key: 'u:2', config: { cwd: '/tmp/work' } });
      clock.advance(1_000);
      await runTurn({ tenant: 'other', key: 'u:1' });
      const queued = await enqueue({ key: 'u:3' });
      const t1 = (await store.now()) + 1;
      const ended = await store.endedTurns({ tenant: 'default', since: t0, until: t1, limit: 10 });
      expect(ended.map((t) => t.key)).toEqual(['u:2', 'u:1']);
      expect(ended[1]).toMatchObject({ status: 'succeeded', backend: 'claude', model: 'claude-sonnet-4-5', labels: { user: 'ada' }, usage: { inputTokens: 10, costUsd: 0.5 } });
      expect(ended[0]).toMatchObject({ model: null, labels: {} });
      expect(ended[0]!.endedAt).toBeGreaterThanOrEqual(ended[1]!.endedAt);
      expect(await store.endedTurns({ tenant: 'default', since: t0, until: t1, limit: 1 })).toHaveLength(1);
      expect(await store.endedTurns({ tenant: 'default', since: t1, until: t1 + 1000, limit: 10 })).toEqual([]);
      expect(queued.turn.status).toBe('queued');
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
}
