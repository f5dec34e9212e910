import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TetherEvent } from '../../src/domain/events.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/** The real Claude Code binary, driven through Tether, against the local Messages API. */
describe('conversation continuity (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('continues one agent conversation over three turns; the third request carries the first two', async () => {
    const tether = await fx.open();
    const r1 = await tether.send('discord:42', 'first prompt').result;
    const r2 = await tether.send('discord:42', 'second prompt').result;
    const r3 = await tether.send('discord:42', 'third prompt').result;

    expect(r3.text).toBe('Reply #3: third prompt');
    const third = fx.mock.mainRequests().at(-1)!;
    expect(third.userTexts).toEqual(['first prompt', 'second prompt', 'third prompt']);
    expect(r1.agentSessionId).toBeTruthy();
    expect(r2.agentSessionId).toBe(r1.agentSessionId);
    expect(r3.agentSessionId).toBe(r1.agentSessionId);

    const session = await tether.get('discord:42');
    expect(session).toMatchObject({ status: 'idle', generation: 1, turns: 3, agentSessionId: r1.agentSessionId });
    const turns = await tether.turns('discord:42');
    expect(turns.map((t) => [t.seq, t.status, t.text])).toEqual([
      [1, 'succeeded', 'Reply #1: first prompt'],
      [2, 'succeeded', 'Reply #2: second prompt'],
      [3, 'succeeded', 'Reply #3: third prompt'],
    ]);
  });

  it('continues after the Tether process that started the conversation is gone', async () => {
    const first = await fx.open();
    await first.send('team:frontend->backend', 'remember the number 7').result;
    await first.close();

    const second = await fx.open();
    const result = await second.send('team:frontend->backend', 'what was the number?').result;
    expect(result.text).toBe('Reply #2: what was the number?');
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['remember the number 7', 'what was the number?']);
    expect((await second.get('team:frontend->backend'))?.turns).toBe(2);
  });

  it('keeps two keys apart', async () => {
    const tether = await fx.open();
    const a = await tether.send('discord:1', 'alpha').result;
    const b = await tether.send('discord:2', 'beta').result;
    const a2 = await tether.send('discord:1', 'alpha again').result;

    expect(a.agentSessionId).not.toBe(b.agentSessionId);
    expect(b.text).toBe('Reply #1: beta');
    expect(a2.text).toBe('Reply #2: alpha again');
    const last = fx.mock.mainRequests().at(-1)!;
    expect(last.userTexts).toEqual(['alpha', 'alpha again']);
    expect(await tether.list()).toHaveLength(2);
  });

  it('keeps the same key of two tenants apart', async () => {
    const tether = await fx.open();
    await tether.send('user:1', 'tenant a speaking', { tenant: 'a' }).result;
    const other = await tether.send('user:1', 'tenant b speaking', { tenant: 'b' }).result;
    expect(other.text).toBe('Reply #1: tenant b speaking');
    expect(await tether.list({ tenant: 'a' })).toHaveLength(1);
    expect(await tether.get('user:1', { tenant: 'c' })).toBeNull();
  });

  it('records exactly the usage the API reported, per turn and per session, and the context', async () => {
    const tether = await fx.open();
    fx.mock.enqueue(
      { text: 'one', usage: { inputTokens: 1200, outputTokens: 30, cacheReadTokens: 400, cacheWriteTokens: 50 } },
      { text: 'two', usage: { inputTokens: 800, outputTokens: 20, cacheReadTokens: 2000, cacheWriteTokens: 10 } },
    );
    const r1 = await tether.send('usage:1', 'count me').result;
    const r2 = await tether.send('usage:1', 'count me again').result;

    expect(r1.usage).toMatchObject({ inputTokens: 1200, outputTokens: 30, cacheReadTokens: 400, cacheWriteTokens: 50 });
    expect(r2.usage).toMatchObject({ inputTokens: 800, outputTokens: 20, cacheReadTokens: 2000, cacheWriteTokens: 10 });
    expect(r1.usage.costUsd).toBeGreaterThan(0);
    // Context is what the last call sent: input + cache read + cache write.
    expect(r2.context.tokens).toBe(800 + 2000 + 10);
    expect(r2.context.window).toBeGreaterThan(0);

    const session = (await tether.get('usage:1'))!;
    expect(session.usage).toMatchObject({ inputTokens: 2000, outputTokens: 50, cacheReadTokens: 2400, cacheWriteTokens: 60 });
    expect(session.usage.costUsd).toBeCloseTo(r1.usage.costUsd + r2.usage.costUsd, 6);
    expect(session.context).toEqual(r2.context);
    const stats = await tether.stats();
    expect(stats.usage.inputTokens).toBe(2000);
  });

  it('streams text deltas, messages, tool use and tool results as TetherEvents', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'Let me look.', toolUse: { name: 'Bash', input: { command: 'echo tether-tool-ok', description: 'print' } } }, { text: 'Done: tether-tool-ok' });
    // allowedTools pre-approves Bash (bypassPermissions is refused to root, as CI runs).
    const turn = tether.send('tools:1', 'run the tool', { allowedTools: ['Bash'] });
    const events: TetherEvent[] = [];
    for await (const event of turn) events.push(event);
    const types = events.map((e) => e.type);

    expect(types[0]).toBe('turn.queued');
    expect(types[1]).toBe('turn.started');
    expect(types).toContain('text.delta');
    expect(types.at(-1)).toBe('turn.completed');
    const use = events.find((e) => e.type === 'tool.use');
    expect(use).toMatchObject({ name: 'Bash', input: { command: 'echo tether-tool-ok' } });
    const result = events.find((e) => e.type === 'tool.result');
    expect(result).toMatchObject({ isError: false });
    expect(result && 'content' in result ? result.content : '').toContain('tether-tool-ok');
    expect((await turn.result).text).toBe('Done: tether-tool-ok');
  });
});
