import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { MockReply } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/**
 * API faults injected at the edge (the mock), through the real agent. The mock's environment
 * sets CLAUDE_CODE_MAX_RETRIES=0, so one injected fault is one failed turn.
 */
describe('agent faults end the turn with a typed error; the session stays usable (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const faults: Array<[string, MockReply, string, RegExp]> = [
    ['API 500', { fault: { kind: 'status', status: 500 } }, ErrorCode.AGENT_UNAVAILABLE, /500/],
    ['529 overloaded', { fault: { kind: 'status', status: 529 } }, ErrorCode.AGENT_UNAVAILABLE, /529|[Oo]verloaded/],
    ['429 rate limit', { fault: { kind: 'status', status: 429 } }, ErrorCode.AGENT_UNAVAILABLE, /429|rate limit/],
    ['401 bad credentials', { fault: { kind: 'status', status: 401 } }, ErrorCode.AGENT_UNAVAILABLE, /401|authenticate/],
    ['400 refused request', { fault: { kind: 'status', status: 400, message: 'prompt is too long' } }, ErrorCode.AGENT_FAILED, /too long/i],
    ['a dropped stream', { fault: { kind: 'drop' } }, ErrorCode.AGENT_UNAVAILABLE, /lost|ECONNRESET|connection/i],
  ];

  it.each(faults)('%s', async (_name, reply, code, message) => {
    const tether = await fx.open();
    await tether.send('fault:1', 'before').result;
    // Every request of the faulty turn fails (the agent may re-send once on its own, e.g. after a drop).
    fx.mock.setDefault(() => reply);
    await expect(tether.send('fault:1', 'during').result).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    const [, failed] = await tether.turns('fault:1');
    expect(failed).toMatchObject({ status: 'failed', error: { code } });
    expect(await tether.peek('fault:1')).toMatchObject({ busy: false, queued: 0 });

    fx.mock.setDefault((req) => ({ text: `Reply #${req.userTexts.length}: ${req.lastUserText}` }));
    const after = await tether.send('fault:1', 'after').result;
    expect(after.text).toMatch(/after$/);
    expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toBe('before');
  });

  it('leaves transient API errors to the agent, which retries them itself: never retried twice over', async () => {
    const tether = await fx.open({ env: { ...fx.env, CLAUDE_CODE_MAX_RETRIES: '1' } });
    fx.mock.enqueue({ fault: { kind: 'status', status: 529 } }, { text: 'second time lucky' });
    const result = await tether.send('retry:1', 'hello').result;
    expect(result.text).toBe('second time lucky');
    // One failed request, one retry by the agent; Tether added none.
    expect(fx.mock.mainRequests()).toHaveLength(2);
  });

  it('interrupts a turn that exceeds maxTurnDuration (a hung API), and the session goes on', async () => {
    const tether = await fx.open({ maxTurnDurationSec: 1 });
    fx.mock.enqueue({ fault: { kind: 'hang' } });
    const started = Date.now();
    await expect(tether.send('slow:1', 'hang').result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED, message: expect.stringContaining('maxTurnDuration') });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await tether.turns('slow:1'))[0]).toMatchObject({ status: 'interrupted' });
    fx.mock.reset();
    // The session goes on (under the default limit: a cold resume on a loaded machine may take over 1 s).
    await tether.close();
    const after = await fx.open();
    expect((await after.send('slow:1', 'and now?').result).text).toMatch(/and now\?$/);
  });
});
