import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

describe('one turn at a time per session (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('two concurrent first messages make one session and one agent conversation', async () => {
    const tether = await fx.open();
    const [a, b] = await Promise.all([tether.send('race:1', 'from a').result, tether.send('race:1', 'from b').result]);

    expect(a.sessionId).toBe(b.sessionId);
    expect(a.agentSessionId).toBe(b.agentSessionId);
    expect(await tether.list()).toHaveLength(1);
    // The second ran after the first, inside the same conversation.
    const main = fx.mock.mainRequests();
    expect(main).toHaveLength(2);
    expect(main[1]!.userTexts).toHaveLength(2);
  });

  it('two Tether instances racing on one database file still make one session', async () => {
    const one = await fx.open();
    const two = await fx.open();
    const [a, b] = await Promise.all([one.send('race:2', 'via one').result, two.send('race:2', 'via two').result]);
    expect(a.sessionId).toBe(b.sessionId);
    expect(a.agentSessionId).toBe(b.agentSessionId);
    const main = fx.mock.mainRequests();
    // Never in flight together: the second request started after the first ended.
    expect(main[1]!.startedAt).toBeGreaterThanOrEqual(main[0]!.endedAt!);
    expect(main[1]!.userTexts).toHaveLength(2);
  });

  it('queues messages FIFO and runs them strictly one after another', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'slow first', delayMs: 600 });
    const handles = ['m1', 'm2', 'm3', 'm4'].map((p) => tether.send('queue:1', p));
    const accepted = await Promise.all(handles.map((h) => h.accepted));
    expect(accepted.map((a) => a.seq)).toEqual([1, 2, 3, 4]);
    const positions: number[] = [];
    for (const h of handles) for await (const e of h) if (e.type === 'turn.queued') { positions.push(e.position); break; }
    expect(positions).toEqual([0, 0, 1, 2]);
    const results = await Promise.all(handles.map((h) => h.result));
    expect(results.map((r) => r.text)).toEqual(['slow first', 'Reply #2: m2', 'Reply #3: m3', 'Reply #4: m4']);

    const main = fx.mock.mainRequests();
    for (let i = 1; i < main.length; i++) expect(main[i]!.startedAt).toBeGreaterThanOrEqual(main[i - 1]!.endedAt!);
    expect(main.at(-1)!.userTexts).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it("onBusy 'reject' refuses at once with SESSION_BUSY and journals nothing", async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'busy for a while', delayMs: 800 });
    const running = tether.send('busy:1', 'long one');
    await running.accepted;
    await waitFor(async () => (await tether.peek('busy:1')).busy);

    const refused = tether.send('busy:1', 'impatient', { onBusy: 'reject' });
    await expect(refused.result).rejects.toMatchObject({ code: ErrorCode.SESSION_BUSY });
    await expect(refused.accepted).rejects.toMatchObject({ code: ErrorCode.SESSION_BUSY });
    await running.result;
    expect((await tether.turns('busy:1')).map((t) => t.prompt)).toEqual(['long one']);
  });

  it('refuses with QUEUE_FULL past maxQueue waiting turns', async () => {
    const tether = await fx.open({ maxQueue: 2 });
    fx.mock.enqueue({ text: 'hold', delayMs: 800 });
    const first = tether.send('full:1', 'p1');
    await waitFor(async () => (await tether.peek('full:1')).busy && (await tether.turns('full:1'))[0]?.status === 'running');
    const waiting = [tether.send('full:1', 'p2'), tether.send('full:1', 'p3')];
    await Promise.all(waiting.map((h) => h.accepted));
    const overflow = tether.send('full:1', 'p4');
    await expect(overflow.result).rejects.toMatchObject({ code: ErrorCode.QUEUE_FULL });
    await Promise.all([first.result, ...waiting.map((h) => h.result)]);
    expect((await tether.turns('full:1')).map((t) => t.prompt)).toEqual(['p1', 'p2', 'p3']);
  });

  it('interrupting a running turn journals it interrupted and leaves the session usable', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'never arrives in time', delayMs: 5_000 });
    const turn = tether.send('stop:1', 'take your time');
    await waitFor(async () => (await tether.turns('stop:1'))[0]?.status === 'running');
    turn.interrupt();
    await expect(turn.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    const [journaled] = await tether.turns('stop:1');
    expect(journaled).toMatchObject({ status: 'interrupted', error: { code: ErrorCode.INTERRUPTED } });
    expect((await tether.peek('stop:1')).busy).toBe(false);

    fx.mock.reset();
    const next = await tether.send('stop:1', 'are you there?').result;
    expect(next.text).toMatch(/^Reply #\d: are you there\?$/);
  });

  it('withdraws a queued turn whose caller aborts before it starts', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'first', delayMs: 700 });
    const first = tether.send('abort:1', 'one');
    const controller = new AbortController();
    const second = tether.send('abort:1', 'two', { signal: controller.signal });
    await second.accepted;
    controller.abort();
    await expect(second.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    await first.result;
    expect((await tether.turns('abort:1')).map((t) => t.status)).toEqual(['succeeded', 'interrupted']);
    expect(fx.mock.mainRequests()).toHaveLength(1);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
