import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { ErrorCode } from '../../src/errors.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

describe('session lifecycle: TTL, LRU, context (real agent, injected clock)', () => {
  let fx: AgentFixture;
  let clock: ManualClock;
  beforeEach(async () => {
    fx = await agentFixture();
    clock = new ManualClock(Date.now());
  });
  afterEach(async () => fx.cleanup());

  it('an idle session past its sliding TTL expires; the next message opens a new generation', async () => {
    const tether = await fx.open({ clock, idleTimeoutSec: 60 });
    const events: TetherEvent[] = [];
    tether.on('*', (e) => events.push(e));

    await tether.send('ttl:1', 'before').result;
    clock.advance(45_000);
    await tether.send('ttl:1', 'still alive').result; // activity slides the expiry
    clock.advance(45_000);
    expect((await tether.get('ttl:1'))?.generation).toBe(1);
    clock.advance(16_000);

    const after = await tether.send('ttl:1', 'after the break').result;
    expect(after.text).toBe('Reply #1: after the break');
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['after the break']);
    const session = await tether.get('ttl:1');
    expect(session).toMatchObject({ generation: 2, status: 'idle', turns: 1 });
    expect(events.filter((e) => e.type === 'session.expired')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'session.created').map((e) => ('generation' in e ? e.generation : 0))).toEqual([1, 2]);
  });

  it('the janitor expires due sessions on demand and leaves fresh ones alone', async () => {
    const tether = await fx.open({ clock, idleTimeoutSec: 60 });
    await tether.send('gc:old', 'x').result;
    clock.advance(50_000);
    await tether.send('gc:new', 'y').result;
    clock.advance(20_000);

    expect(await tether.gc()).toMatchObject({ expired: 1, evicted: 0 });
    expect((await tether.get('gc:old'))?.status).toBe('expired');
    expect((await tether.get('gc:new'))?.status).toBe('idle');
    expect((await tether.peek('gc:old')).exists).toBe(false);
  });

  it('idle TTL 0 never expires', async () => {
    const tether = await fx.open({ clock, idleTimeoutSec: 0 });
    await tether.send('forever:1', 'x').result;
    clock.advance(10 * 365 * 24 * 3600 * 1000);
    expect(await tether.gc()).toMatchObject({ expired: 0 });
    expect((await tether.get('forever:1'))?.expiresAt).toBeNull();
  });

  it('at the session cap the least recently used idle session is evicted', async () => {
    const tether = await fx.open({ clock, maxSessions: 2 });
    const evicted: string[] = [];
    tether.on('session.evicted', (e) => evicted.push(e.key));
    await tether.send('lru:a', 'a').result;
    clock.advance(1_000);
    await tether.send('lru:b', 'b').result;
    clock.advance(1_000);
    await tether.send('lru:a', 'a again').result; // a is now the most recent
    clock.advance(1_000);
    await tether.send('lru:c', 'c').result;

    expect(evicted).toEqual(['lru:b']);
    expect((await tether.get('lru:b'))).toMatchObject({ status: 'closed', closeReason: 'evicted' });
    expect((await tether.list({ status: 'idle' })).map((s) => s.key).sort()).toEqual(['lru:a', 'lru:c']);
    expect((await tether.stats()).sessions).toMatchObject({ live: 2, evicted: 1 });
  });

  it("onLimit 'reject' refuses a new session at the cap with LIMIT_REACHED and writes nothing", async () => {
    const tether = await fx.open({ clock, maxSessions: 1, onLimit: 'reject' });
    await tether.send('cap:a', 'a').result;
    const refused = tether.send('cap:b', 'b');
    await expect(refused.result).rejects.toMatchObject({ code: ErrorCode.LIMIT_REACHED });
    expect(await tether.get('cap:b')).toBeNull();
    // The existing session still takes messages.
    expect((await tether.send('cap:a', 'a2').result).text).toBe('Reply #2: a2');
  });

  it('a running session is never evicted', async () => {
    const tether = await fx.open({ clock, maxSessions: 1 });
    fx.mock.enqueue({ text: 'working', delayMs: 800 });
    const running = tether.send('keep:a', 'long');
    await running.accepted;
    const refused = tether.send('keep:b', 'b');
    await expect(refused.result).rejects.toMatchObject({ code: ErrorCode.LIMIT_REACHED });
    expect((await running.result).text).toBe('working');
    expect((await tether.get('keep:a'))?.status).toBe('idle');
  });

  it('at resetAt of the context window the next message starts a new generation, opening with a recap', async () => {
    const tether = await fx.open({ clock, resetAt: { claude: 0.8 } });
    const resets: TetherEvent[] = [];
    tether.on('session.reset', (e) => resets.push(e));
    fx.mock.enqueue({ text: 'big', usage: { inputTokens: 5_000, cacheReadTokens: 10_000 } });
    const first = await tether.send('ctx:1', 'fill it').result;
    const window = first.context.window;
    expect(window).toBeGreaterThan(0);
    // Second turn reports a context at 85% of whatever window the agent reported.
    fx.mock.enqueue({ text: 'full', usage: { inputTokens: Math.ceil(window * 0.85) - 1000, cacheReadTokens: 1000 } });
    const full = await tether.send('ctx:1', 'fill it more').result;
    expect(full.context.ratio).toBeGreaterThanOrEqual(0.8);

    const fresh = await tether.send('ctx:1', 'start over').result;
    expect(fresh.text).toMatch(/^Reply #1: .*start over$/s);
    // A soft reset: the new conversation opens with a recap of the last exchanges.
    const opening = fx.mock.mainRequests().at(-1)!.userTexts;
    expect(opening).toHaveLength(1);
    expect(opening[0]).toContain('User: fill it more\nAssistant: full');
    expect(opening[0]!.endsWith('start over')).toBe(true);
    expect(fresh.agentSessionId).not.toBe(full.agentSessionId);
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatchObject({ reason: 'context', generation: 1 });
    expect(await tether.get('ctx:1')).toMatchObject({ generation: 2, turns: 1 });
  });

  it('reset closes the current session; the next message opens a new conversation', async () => {
    const tether = await fx.open({ clock });
    const first = await tether.send('reset:1', 'hello').result;
    const closed = await tether.reset('reset:1');
    expect(closed).toMatchObject({ status: 'closed', closeReason: 'reset', generation: 1 });
    const next = await tether.send('reset:1', 'hello again').result;
    expect(next.text).toBe('Reply #1: hello again');
    expect(next.agentSessionId).not.toBe(first.agentSessionId);
    await expect(tether.reset('never:seen')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });

  it('peek never creates, never locks, never counts', async () => {
    const tether = await fx.open({ clock, idleTimeoutSec: 60 });
    expect(await tether.peek('peek:1')).toEqual({ exists: false, busy: false, sessionId: null, agentSessionId: null, queued: 0, awake: false });
    expect(await tether.get('peek:1')).toBeNull();

    await tether.send('peek:1', 'x').result;
    const before = (await tether.get('peek:1'))!;
    clock.advance(30_000);
    const peeked = await tether.peek('peek:1');
    // The turn's process stays warm after it: awake, on this Tether.
    expect(peeked).toMatchObject({ exists: true, busy: false, sessionId: before.id, agentSessionId: before.agentSessionId, awake: true });
    const after = (await tether.get('peek:1'))!;
    expect(after.lastActiveAt).toBe(before.lastActiveAt);
    expect(after.expiresAt).toBe(before.expiresAt);
    expect(after.turns).toBe(1);
    expect(after.lease).toBeNull();
  });

  it('delete removes the key with its history', async () => {
    const tether = await fx.open({ clock });
    await tether.send('rm:1', 'x').result;
    await tether.delete('rm:1');
    expect(await tether.get('rm:1')).toBeNull();
    expect(await tether.turns('rm:1')).toEqual([]);
    await expect(tether.delete('rm:1')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});
