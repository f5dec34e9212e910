import { describe, expect, it } from 'vitest';
import type { Suite } from './suite.js';

export function transcriptBehaviour(suite: Suite): void {
  const { store, clock, runTurn } = suite;

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
      if (!suite.harness.reopen) {
        skip('this adapter keeps no data across a reopen');
        return;
      }
      await store.appendTranscript({ agentSessionId: 'r' }, 'p', [entry('1', 'x')]);
      await suite.reopen();
      await store.appendTranscript({ agentSessionId: 'r' }, 'p', [entry('1', 'x'), entry('2', 'y')]);
      expect((await store.loadTranscript({ agentSessionId: 'r' }))?.map((e) => e.uuid)).toEqual(['1', '2']);
    });
  });
}
