import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultMockReply } from '../../src/testing/mock-anthropic.js';
import { serveOverHttp } from '../helpers/serve.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/** Session operations with the real agent: links and metadata, settings switched mid-conversation, label quotas, statistics. */
describe('session operations (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('links and metadata are kept, carried over, searchable in process and over HTTP', async () => {
    const tether = await fx.open();
    await tether.send('link:1', 'hi', { taskId: 'T-1', mcpSessionId: 'mcp-9', metadata: { repo: 'web', priority: 2 } }).result;
    await tether.send('link:2', 'hi', { taskId: 'T-2' }).result;
    expect((await tether.get('link:1'))?.metadata).toEqual({ repo: 'web', priority: 2, taskId: 'T-1', mcpSessionId: 'mcp-9' });
    expect((await tether.list({ metadata: { taskId: 'T-1' } })).map((s) => s.key)).toEqual(['link:1']);
    expect((await tether.list({ metadata: { priority: 2 } })).map((s) => s.key)).toEqual(['link:1']);
    await expect(Promise.resolve().then(() => tether.send('link:3', 'hi', { metadata: { x: 'y'.repeat(20_000) } }).result)).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    const served = await serveOverHttp(tether, fx);
    try {
      const { client } = served;
      expect((await client.list({ metadata: { mcpSessionId: 'mcp-9' } })).map((s) => s.key)).toEqual(['link:1']);
      expect((await client.get('link:2'))?.metadata).toEqual({ taskId: 'T-2' });
      const updated = await client.update('link:2', { metadata: { taskId: 'T-3' }, labels: { team: 'web' } });
      expect(updated).toMatchObject({ metadata: { taskId: 'T-3' }, labels: { team: 'web' } });
      // Stored, and found by the new value: not only echoed back.
      expect(await client.get('link:2')).toMatchObject({ metadata: { taskId: 'T-3' }, labels: { team: 'web' } });
      expect((await client.list({ metadata: { taskId: 'T-3' } })).map((s) => s.key)).toEqual(['link:2']);
      await expect(client.update('link:2', { permissionMode: 'bypassPermissions' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(client.update('nope', { labels: { a: 'b' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await served.close();
    }
  });

  it('switches the model for the next turns in the warm process, and the conversation goes on', async () => {
    const tether = await fx.open();
    await tether.send('model:1', 'first', { model: 'claude-sonnet-4-5' }).result;
    expect(fx.mock.mainRequests().at(-1)!.model).toBe('claude-sonnet-4-5');
    const updated = await tether.update('model:1', { model: 'claude-opus-4-1', permissionMode: 'plan' });
    expect(updated.config).toMatchObject({ model: 'claude-opus-4-1', permissionMode: 'plan' });
    const second = tether.send('model:1', 'second');
    const started: string[] = [];
    for await (const e of second) if (e.type === 'turn.started') started.push(e.runner);
    await second.result;
    expect(started).toEqual(['warm']);
    const last = fx.mock.mainRequests().at(-1)!;
    // Claude Code resolves the alias to its current id; what matters is that the model changed.
    expect(last.model).toMatch(/opus/);
    expect(last.userTexts).toEqual(['first', 'second']);
    await tether.update('model:1', { model: null });
    expect((await tether.get('model:1'))?.config.model).toBeUndefined();
  });

  it('label quotas refuse a session past the per-value limit (LIMIT_REACHED), and count per tenant', async () => {
    const tether = await fx.open({ labelQuotas: 'user=1' });
    await tether.send('q:1', 'hi', { labels: { user: 'ada' } }).result;
    await expect(tether.send('q:2', 'hi', { labels: { user: 'ada' } }).result).rejects.toMatchObject({ code: 'LIMIT_REACHED', message: expect.stringMatching(/user=ada/) });
    await tether.send('q:2', 'hi', { labels: { user: 'bob' } }).result;
    await tether.send('q:3', 'hi', { labels: { user: 'ada' }, tenant: 'other' }).result;
    await expect(tether.update('q:2', { labels: { user: 'ada' } })).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    // A reset frees the slot.
    await tether.reset('q:1');
    await tether.update('q:2', { labels: { user: 'ada' } });
  });

  it('statistics: average turn time and error rate, per tenant and overall', async () => {
    const tether = await fx.open();
    await tether.send('s:1', 'ok').result;
    fx.mock.setDefault(() => ({ fault: { kind: 'status', status: 400, message: 'refused' } }));
    await expect(tether.send('s:1', 'bad').result).rejects.toMatchObject({ code: 'AGENT_FAILED' });
    fx.mock.setDefault(defaultMockReply);
    await tether.send('s:2', 'ok', { tenant: 'other' }).result;
    const all = await tether.stats();
    expect(all.turnTime.turns).toBe(3);
    expect(all.averageTurnMs).toBeGreaterThan(0);
    // The mean of the journal's own turn durations.
    const durations = [...(await tether.turns('s:1')), ...(await tether.turns('s:2', { tenant: 'other' }))].map((t) => t.endedAt! - t.startedAt!);
    expect(all.averageTurnMs).toBeGreaterThanOrEqual(Math.min(...durations));
    expect(all.averageTurnMs).toBeLessThanOrEqual(Math.max(...durations));
    expect(all.errorRate).toBeCloseTo(1 / 3, 3);
    const other = await tether.stats({ tenant: 'other' });
    expect(other).toMatchObject({ errorRate: 0, turnTime: { turns: 1 } });
    expect((await tether.stats({ tenant: 'nobody' })).averageTurnMs).toBeNull();
  });
});
