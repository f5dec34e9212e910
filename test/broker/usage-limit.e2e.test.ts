import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../src/domain/clock.js';
import { ErrorCode } from '../../src/errors.js';
import type { MockReply } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

const HOUR = 3_600_000;

/**
 * An account out of quota: the API refuses with a 429 that names when the plan's usage limit
 * resets (the unified rate-limit headers a Claude subscription gets, which Claude Code turns into
 * a `rate_limit_event`). The turn that hits it fails saying when; every other turn waits, still
 * queued, and runs after the reset instead of failing on the same limit.
 */
describe('usage limits park turns until the reset (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  /** The API's refusal when the plan's usage limit is reached: a 429 naming when it resets. */
  const usageLimitReply = (resetsAt: number, extra: Record<string, string> = {}): MockReply => ({
    fault: {
      kind: 'status',
      status: 429,
      type: 'rate_limit_error',
      message: 'usage limit reached',
      headers: { 'anthropic-ratelimit-unified-status': 'rejected', 'anthropic-ratelimit-unified-reset': String(Math.floor(resetsAt / 1000)), ...extra },
    },
  });

  /** Subscription credentials: Claude Code reads the plan's limit headers only with those. */
  const subscriptionEnv = (): NodeJS.ProcessEnv => {
    const { ANTHROPIC_API_KEY: _key, ...env } = fx.env;
    return { ...env, CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-mock' };
  };

  it('fails the turn that hit the limit with its reset time, parks the rest, and runs them after it', async () => {
    const clock = new ManualClock(Date.now());
    const resetsAt = Math.floor(clock.now() / 1000) * 1000 + HOUR;
    fx.mock.enqueue(usageLimitReply(resetsAt, { 'anthropic-ratelimit-unified-representative-claim': 'five_hour' }));
    const tether = await fx.open({ clock, env: subscriptionEnv() });

    const first = tether.send('limit:a', 'one');
    const queuedBehind = tether.send('limit:a', 'two');
    await queuedBehind.accepted;
    const err = await first.result.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.AGENT_UNAVAILABLE, message: expect.stringContaining(`resets at ${new Date(resetsAt).toISOString()}`) });

    // Meanwhile: another session's new turn is accepted and waits too.
    const otherKey = tether.send('limit:b', 'three');
    await otherKey.accepted;
    expect((await tether.stats()).usageLimit).toMatchObject({ until: new Date(resetsAt).toISOString(), reason: expect.stringMatching(/five-hour usage limit/) });
    // Parked turns hold no lease and start no agent: they wait, queued, on the clock.
    await settle();
    expect(fx.mock.mainRequests()).toHaveLength(1);
    expect((await tether.turns('limit:a')).map((t) => t.status)).toEqual(['failed', 'queued']);
    expect((await tether.turns('limit:b')).map((t) => t.status)).toEqual(['queued']);

    clock.advance(HOUR);
    const [two, three] = await Promise.all([queuedBehind.result, otherKey.result]);
    // The refused prompt stays in the agent's conversation; Claude Code sends it along with this one.
    expect(two.text).toMatch(/two$/);
    expect(three.text).toBe('Reply #1: three');
    expect((await tether.stats()).usageLimit).toBeUndefined();
    expect(fx.mock.mainRequests()).toHaveLength(3);
  });

  it('an interrupted parked turn is withdrawn, never run', async () => {
    const clock = new ManualClock(Date.now());
    fx.mock.enqueue(usageLimitReply(clock.now() + HOUR));
    const tether = await fx.open({ clock, env: subscriptionEnv() });
    await expect(tether.send('limit:c', 'one').result).rejects.toMatchObject({ code: ErrorCode.AGENT_UNAVAILABLE });
    const parked = tether.send('limit:c', 'two');
    await parked.accepted;
    parked.interrupt();
    await expect(parked.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    expect((await tether.turns('limit:c')).map((t) => t.status)).toEqual(['failed', 'interrupted']);
    expect(fx.mock.mainRequests()).toHaveLength(1);
  });

  it('another node on the store learns the limit with its heartbeat and parks its turns too', async () => {
    const clock = new ManualClock(Date.now());
    const resetsAt = Math.floor(clock.now() / 1000) * 1000 + HOUR;
    fx.mock.enqueue(usageLimitReply(resetsAt));
    // Heartbeats every 400 ms (a third of the lease TTL).
    const a = await fx.open({ clock, env: subscriptionEnv(), leaseTtlMs: 1_200 });
    const b = await fx.open({ clock, env: subscriptionEnv(), leaseTtlMs: 1_200 });
    await expect(a.send('limit:a', 'one').result).rejects.toMatchObject({ code: ErrorCode.AGENT_UNAVAILABLE });
    // B reads it with its next heartbeat.
    await clock.advanceAsync(400);
    expect((await b.stats()).usageLimit?.until).toBe(new Date(resetsAt).toISOString());

    const parked = b.send('limit:b', 'two');
    await parked.accepted;
    await settle();
    expect((await b.turns('limit:b')).map((t) => t.status)).toEqual(['queued']);
    expect(fx.mock.mainRequests()).toHaveLength(1);

    clock.advance(HOUR);
    expect((await parked.result).text).toBe('Reply #1: two');
  });
});
