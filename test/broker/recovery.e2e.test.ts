import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/** A process that no longer exists, as it would appear in a lease. */
const DEAD_OWNER = `${hostname()}:2147483000:12345:deadbeef`;

describe('start-up recovery of what a dead process left', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  /** What a process killed mid-turn leaves in the database: a running turn under its lease, one queued behind. */
  async function leaveACrash(): Promise<void> {
    const tether = await fx.open();
    await tether.send('crash:1', 'before the crash').result;
    await tether.close();
    const store = openSqliteStore({ path: fx.dbPath });
    const base = { tenant: 'default', key: 'crash:1', backend: 'claude' as const, config: { cwd: fx.cwd }, labels: {}, owner: DEAD_OWNER, onBusy: 'queue' as const, maxQueue: 16, idleTimeoutMs: 3_600_000, maxSessions: 1000, onLimit: 'evict-lru' as const };
    const running = await store.enqueueTurn({ ...base, prompt: 'mid-crash', turnId: 'turn-running', newSessionId: 'unused-1' });
    await store.enqueueTurn({ ...base, prompt: 'accepted, never started', turnId: 'turn-queued', newSessionId: 'unused-2' });
    const lease = await store.acquireLease({ sessionId: running.session.id, turnId: 'turn-running', owner: DEAD_OWNER, ttlMs: 3_600_000 });
    expect(lease.status).toBe('acquired');
    await store.close();
  }

  it('ends the running turn of a dead process interrupted and runs the prompt it had accepted; no prompt is lost', async () => {
    await leaveACrash();
    const restarted = await fx.open();
    const queued = restarted.turnEvents('turn-queued');
    let last: string | undefined;
    for await (const { event } of queued) last = event.type;
    expect(last).toBe('turn.completed');

    const turns = await restarted.turns('crash:1');
    expect(turns.map((t) => [t.prompt, t.status])).toEqual([
      ['before the crash', 'succeeded'],
      ['mid-crash', 'interrupted'],
      ['accepted, never started', 'succeeded'],
    ]);
    expect(turns[1]!.error?.code).toBe('INTERRUPTED');
    expect(turns[2]!.text).toBe('Reply #2: accepted, never started');
    // The interrupted turn's prompt never reached the agent; the accepted one did, in its conversation.
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['before the crash', 'accepted, never started']);
    expect(await restarted.peek('crash:1')).toMatchObject({ busy: false, queued: 0 });
    expect((await restarted.send('crash:1', 'after the restart').result).text).toBe('Reply #3: after the restart');
  });

  it("with orphanedTurns 'interrupt', ends the accepted prompt interrupted instead", async () => {
    await leaveACrash();
    const restarted = await fx.open({ orphanedTurns: 'interrupt' });
    const turns = await restarted.turns('crash:1');
    expect(turns.map((t) => [t.prompt, t.status])).toEqual([
      ['before the crash', 'succeeded'],
      ['mid-crash', 'interrupted'],
      ['accepted, never started', 'interrupted'],
    ]);
    expect((await restarted.send('crash:1', 'after the restart').result).text).toBe('Reply #2: after the restart');
  });

  it('leaves the turns of a live process alone', async () => {
    const tether = await fx.open();
    fx.mock.enqueue({ text: 'slow', delayMs: 800 });
    const running = tether.send('alive:1', 'long');
    await running.accepted;
    const second = await fx.open();
    expect(await second.gc()).toMatchObject({ recovered: 0 });
    expect((await running.result).text).toBe('slow');
  });
});
