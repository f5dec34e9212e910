import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TetherEvent } from '../../src/domain/events.js';
import { defaultMockReply } from '../../src/testing/mock-anthropic.js';
import { randomUUID } from 'node:crypto';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { serveOverHttp } from '../helpers/serve.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/** Compaction with the real agent: Claude Code's `/compact`, asked for or at `compactAt`. */
describe('compact (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const summarizes = (): void => {
    // The mock answers Claude Code's summarizing request with a short summary, as a model would.
    fx.mock.setDefault((req) =>
      JSON.stringify(req.body.messages).includes('Respond with TEXT ONLY')
        ? { text: 'SUMMARY: the user shared a long text and asked two things.' }
        : defaultMockReply(req),
    );
  };

  it('compacts on request: a journaled turn, session.compacted, and a smaller next request that starts from the summary', async () => {
    const tether = await fx.open();
    const events: TetherEvent[] = [];
    tether.on('*', (e) => events.push(e));
    await tether.send('c:1', `remember this: ${'lorem ipsum '.repeat(400)}`).result;
    await tether.send('c:1', 'second question').result;
    const before = fx.mock.mainRequests().at(-1)!;

    summarizes();
    const result = await tether.compact('c:1');
    expect(result.preTokens).toBeGreaterThan(result.postTokens);
    expect(result.context.tokens).toBe(result.postTokens);
    expect(events.find((e) => e.type === 'session.compacted')).toMatchObject({ key: 'c:1', reason: 'manual', preTokens: result.preTokens, postTokens: result.postTokens, turnId: result.turnId });
    expect((await tether.get('c:1'))?.context.tokens).toBe(result.postTokens);
    expect((await tether.turns('c:1')).at(-1)).toMatchObject({ prompt: '/compact', status: 'succeeded' });

    const after = await tether.send('c:1', 'third question').result;
    expect(after.text).toMatch(/third question$/);
    const next = fx.mock.mainRequests().at(-1)!;
    // The conversation part of the request (tools and system prompt stay as they were).
    expect(JSON.stringify(next.body.messages).length).toBeLessThan(JSON.stringify(before.body.messages).length);
    expect(next.userTexts.join('\n')).toContain('SUMMARY: the user shared a long text');
    expect(next.userTexts.join('\n')).not.toContain('lorem ipsum lorem ipsum');
  });

  it('refuses a key without a session, and one without a conversation yet', async () => {
    const tether = await fx.open();
    await expect(tether.compact('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A session whose only turn was withdrawn before it ran has no conversation to compact.
    const store = openSqliteStore({ path: fx.dbPath });
    try {
      const queued = await store.enqueueTurn({
        tenant: 'default', key: 'c:none', backend: 'claude', config: { cwd: fx.cwd }, labels: {}, prompt: 'never ran', owner: 'test',
        turnId: randomUUID(), newSessionId: randomUUID(), onBusy: 'queue', maxQueue: 1, idleTimeoutMs: 0, maxSessions: 100, onLimit: 'evict-lru',
      });
      await store.abandonTurn(queued.turn.id, { code: 'INTERRUPTED', message: 'withdrawn' });
    } finally {
      await store.close();
    }
    expect((await tether.get('c:none'))?.agentSessionId).toBeNull();
    await expect(tether.compact('c:none')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('compacts by itself before a message once the context passes compactAt', async () => {
    const tether = await fx.open({ compactAt: { claude: 0.001 }, resetAt: { claude: 0.95 } });
    const events: TetherEvent[] = [];
    tether.on('*', (e) => events.push(e));
    await tether.send('c:2', `remember this: ${'lorem ipsum '.repeat(400)}`).result;
    expect((await tether.get('c:2'))!.context.ratio).toBeGreaterThan(0.001);
    summarizes();
    const r = await tether.send('c:2', 'next').result;
    expect(r.text).toMatch(/next$/);
    // The message went out on the compacted conversation.
    const next = fx.mock.mainRequests().at(-1)!;
    expect(next.userTexts.join('\n')).toContain('SUMMARY: the user shared a long text');
    expect(next.userTexts.join('\n')).not.toContain('lorem ipsum lorem ipsum');
    expect(events.filter((e) => e.type === 'session.compacted')).toHaveLength(1);
    expect((await tether.turns('c:2')).map((t) => t.prompt.slice(0, 8))).toEqual(['remember', '/compact', 'next']);
    expect((await tether.get('c:2'))!.generation).toBe(1);
  });

  it('over HTTP: POST /v1/sessions/{key}/compact, through the client', async () => {
    const tether = await fx.open();
    const served = await serveOverHttp(tether, fx);
    try {
      const { client } = served;
      await expect(client.compact('http:none')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await client.send('http:c', `remember this: ${'lorem ipsum '.repeat(200)}`).result;
      summarizes();
      const result = await client.compact('http:c');
      expect(result.postTokens).toBeLessThan(result.preTokens);
      expect((await client.get('http:c'))?.context.tokens).toBe(result.postTokens);
    } finally {
      await served.close();
    }
  });
});
