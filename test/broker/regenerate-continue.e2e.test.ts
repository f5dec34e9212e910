import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { RecordedRequest } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { serveOverHttp } from '../helpers/serve.js';
import { waitFor } from '../helpers/wait.js';

/** The assistant texts a request carried: what the agent's conversation held at that point. */
function assistantTexts(req: RecordedRequest): string[] {
  const out: string[] = [];
  for (const m of (req.body?.messages ?? []) as Array<{ role: string; content: unknown }>) {
    if (m.role !== 'assistant') continue;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Array<{ type: string; text?: string }>);
    const text = blocks.filter((b) => b.type === 'text').map((b) => b.text ?? '').join('');
    if (text) out.push(text);
  }
  return out;
}

/** Regenerating the last reply with the real agent: the conversation is cut back, not appended to. */
describe('regenerate (real agent)', () => {
  let fx: AgentFixture;
  let replies = 0;
  beforeEach(async () => {
    fx = await agentFixture();
    replies = 0;
    // Every answer differs, so a regenerated reply is told apart from the one it replaces.
    fx.mock.setDefault((req) => ({ text: `answer ${++replies} to ${req.lastUserText}` }));
  });
  afterEach(async () => fx.cleanup());

  const last = () => fx.mock.mainRequests().at(-1)!;

  it('runs the last prompt again from the point before it; the next turns build on the new reply', async () => {
    const tether = await fx.open();
    await tether.send('r', 'one').result;
    const replaced = await tether.send('r', 'two').result;
    expect(replaced.text).toBe('answer 2 to two');
    const before = await tether.get('r');

    const events: string[] = [];
    const handle = tether.regenerate('r');
    for await (const e of handle) events.push(e.type);
    const again = await handle.result;
    expect(events[0]).toBe('turn.queued');
    expect(events.at(-1)).toBe('turn.completed');
    expect(again.text).toBe('answer 3 to two');
    // The agent saw the conversation as it was before the replaced reply.
    expect(last().userTexts).toEqual(['one', 'two']);
    expect(assistantTexts(last())).toEqual(['answer 1 to one']);

    const turns = await tether.turns('r');
    expect(turns.map((t) => [t.seq, t.prompt, t.status])).toEqual([
      [1, 'one', 'succeeded'],
      [2, 'two', 'succeeded'],
      [3, 'two', 'succeeded'],
    ]);
    expect(turns[2]!.regenerates).toBe(turns[1]!.id);
    const after = await tether.get('r');
    expect(after!.id).toBe(before!.id);
    expect(after!.agentSessionId).not.toBe(before!.agentSessionId);

    await tether.send('r', 'three').result;
    expect(last().userTexts).toEqual(['one', 'two', 'three']);
    expect(assistantTexts(last())).toEqual(['answer 1 to one', 'answer 3 to two']);

    // Again: the reply to "three" replaced, then a fork and an export leave replaced turns out.
    await tether.regenerate('r').result;
    expect(last().userTexts).toEqual(['one', 'two', 'three']);
    expect(assistantTexts(last())).toEqual(['answer 1 to one', 'answer 3 to two']);
    const bundle = await tether.export('r');
    expect(bundle.turns.map((t) => [t.seq, t.text])).toEqual([
      [1, 'answer 1 to one'],
      [3, 'answer 3 to two'],
      [5, 'answer 5 to three'],
    ]);
    const copy = await tether.fork('r', 'r:copy', { atTurn: 3 });
    expect(copy.turns).toBe(2);
    await tether.send('r:copy', 'four').result;
    expect(last().userTexts).toEqual(['one', 'two', 'four']);
    expect(assistantTexts(last())).toEqual(['answer 1 to one', 'answer 3 to two']);
  });

  it("regenerating a session's only reply starts its conversation over", async () => {
    const tether = await fx.open();
    await tether.send('solo', 'hello').result;
    const first = (await tether.get('solo'))!.agentSessionId;
    const again = await tether.regenerate('solo').result;
    expect(again.text).toBe('answer 2 to hello');
    expect(last().userTexts).toEqual(['hello']);
    expect(assistantTexts(last())).toEqual([]);
    expect(again.agentSessionId).not.toBe(first);
    await tether.send('solo', 'next').result;
    expect(last().userTexts).toEqual(['hello', 'next']);
    expect(assistantTexts(last())).toEqual(['answer 2 to hello']);
  });

  it('a failed last turn runs again without its failed attempt in the conversation', async () => {
    const tether = await fx.open();
    await tether.send('f', 'one').result;
    // Every request of the failing turn fails (the agent may re-send once on its own).
    const answer = (req: RecordedRequest) => ({ text: `answer ${++replies} to ${req.lastUserText}` });
    fx.mock.setDefault(() => ({ fault: { kind: 'status', status: 400, message: 'prompt is too long' } }));
    await expect(tether.send('f', 'two').result).rejects.toMatchObject({ code: 'AGENT_FAILED' });
    fx.mock.setDefault(answer);
    const again = await tether.regenerate('f').result;
    expect(again.text).toMatch(/to two$/);
    expect(last().userTexts).toEqual(['one', 'two']);
    expect(assistantTexts(last())).toEqual(['answer 1 to one']);
  });

  it('refuses with a typed error and journals nothing: unknown key, no turn yet, busy, after a compaction', async () => {
    const tether = await fx.open();
    await expect(tether.regenerate('nobody').result).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(tether.regenerate('bad\u0007key').result).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    await tether.send('b', 'one').result;
    fx.mock.enqueue({ text: 'slow', delayMs: 1_500 });
    const running = tether.send('b', 'two');
    await running.accepted;
    await expect(tether.regenerate('b').result).rejects.toMatchObject({ code: 'SESSION_BUSY' });
    await running.result;

    await tether.compact('b');
    await expect(tether.regenerate('b').result).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('compacted') });
    expect((await tether.turns('b')).map((t) => t.prompt)).toEqual(['one', 'two', '/compact']);

    await tether.reset('b');
    await expect(tether.regenerate('b').result).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('over HTTP through the client, as SSE and with ?async=1', async () => {
    const tether = await fx.open();
    const served = await serveOverHttp(tether, fx);
    try {
      const { client } = served;
      await client.send('h', 'one').result;
      await client.send('h', 'two').result;
      const types: string[] = [];
      const handle = client.regenerate('h');
      for await (const e of handle) types.push(e.type);
      expect(types).toEqual(expect.arrayContaining(['turn.queued', 'turn.started', 'turn.completed']));
      expect((await handle.result).text).toBe('answer 3 to two');
      expect(last().userTexts).toEqual(['one', 'two']);
      expect((await client.turns('h')).at(-1)?.regenerates).toBe((await client.turns('h')).at(-2)?.id);

      const res = await fetch(`${served.url}/v1/sessions/h/regenerate?async=1`, { method: 'POST' });
      expect(res.status).toBe(202);
      const accepted = (await res.json()) as { turnId: string };
      const ran = await waitFor(async () => {
        const t = await client.getTurn(accepted.turnId);
        return t?.status === 'succeeded' && t;
      });
      expect(ran.text).toBe('answer 4 to two');

      const bad = await fetch(`${served.url}/v1/sessions/h/regenerate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT');
      const missing = await fetch(`${served.url}/v1/sessions/none/regenerate`, { method: 'POST' });
      expect(missing.status).toBe(404);
    } finally {
      await served.close();
    }
  });
});

/** Continue: the agent goes on where it stopped, over the library and HTTP. */
describe('continue (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('goes on with the conversation; the journal says what was sent', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'The first half of a long answer' });
    await tether.send('c', 'tell me everything').result;
    fx.mock.enqueue({ text: 'and the second half.' });
    const handle = tether.continue('c');
    const types: string[] = [];
    for await (const e of handle) types.push(e.type);
    expect((await handle.result).text).toBe('and the second half.');
    expect(types[0]).toBe('turn.queued');
    const request = fx.mock.mainRequests().at(-1)!;
    expect(request.userTexts).toEqual(['tell me everything', 'continue']);
    expect((await tether.turns('c')).map((t) => t.prompt)).toEqual(['tell me everything', 'continue']);
  });

  it('refuses a session that has expired instead of opening a blank conversation with "continue"', async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ clock, idleTimeoutSec: 60, janitorIntervalSec: 0 });
    await tether.send('old', 'hello').result;
    clock.advance(61_000);
    await expect(tether.continue('old').result).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('expired') });
    expect((await tether.turns('old')).map((t) => t.prompt)).toEqual(['hello']);
    expect((await tether.get('old'))?.generation).toBe(1);
  });

  it('refuses a key without a live session (NOT_FOUND), and over HTTP answers like a message', async () => {
    const tether = await fx.open();
    await expect(tether.continue('nobody').result).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const served = await serveOverHttp(tether, fx);
    try {
      const { client } = served;
      await client.send('h', 'start').result;
      expect((await client.continue('h').result).text).toMatch(/continue$/);
      expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['start', 'continue']);
      await expect(client.continue('none').result).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const bad = await fetch(`${served.url}/v1/sessions/h/continue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"onBusy":"maybe"}' });
      expect(bad.status).toBe(400);
      const json = await fetch(`${served.url}/v1/sessions/h/continue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"onBusy":"reject"}' });
      expect(json.status).toBe(200);
      expect(((await json.json()) as { type: string }).type).toBe('turn.completed');
    } finally {
      await served.close();
    }
  });
});
