import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ImportSessionInput } from '../../../src/store/store.js';
import { INTERRUPTED, usage, type Suite } from './suite.js';

export function sessionOperationBehaviour(suite: Suite): void {
  const { store, clock, enqueue, start, finish, runTurn, allTurns } = suite;

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

    it('writes the transcripts of an import with it, and none of them when the import is refused', async () => {
      const entries = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ type: 'user', uuid: `${tag}-${i}`, n: i }));
      const carried = { agentSessionId: 'conv-carried', transcripts: [{ entries: entries(40, 'm') }, { subpath: 'subagents/agent-1', entries: entries(3, 's') }] };
      await runTurn({ key: 'copy:1' });
      await runTurn({ key: 'quota', labels: { user: 'ada' } });
      const refusals: Array<[string, Partial<ImportSessionInput>, string]> = [
        ['a live key', {}, 'INVALID_INPUT'],
        ['the cap', { key: 'copy:2', maxSessions: 2, onLimit: 'reject' }, 'LIMIT_REACHED'],
        ['a label quota', { key: 'copy:3', labelQuotas: { user: 1 } }, 'LIMIT_REACHED'],
      ];
      for (const [name, over, code] of refusals) {
        await expect(store.importSession(imported({ ...carried, ...over })), name).rejects.toMatchObject({ code });
        expect(await store.loadTranscript({ agentSessionId: 'conv-carried' }), name).toBeNull();
        expect(await store.loadTranscript({ agentSessionId: 'conv-carried', subpath: 'subagents/agent-1' }), name).toBeNull();
      }
      const { session } = await store.importSession(imported({ ...carried, key: 'copy:4' }));
      expect(session.agentSessionId).toBe('conv-carried');
      expect(await store.loadTranscript({ agentSessionId: 'conv-carried' })).toEqual(entries(40, 'm'));
      expect(await store.listTranscriptSubpaths('conv-carried')).toEqual(['subagents/agent-1']);
      expect(await store.loadTranscript({ agentSessionId: 'conv-carried', subpath: 'subagents/agent-1' })).toEqual(entries(3, 's'));
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

  });
}
