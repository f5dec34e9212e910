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

  it('turns left running or queued by a dead process end interrupted; the lease is freed; the key serves again', async () => {
    const tether = await fx.open();
    await tether.send('crash:1', 'before the crash').result;
    await tether.close();

    // What a process killed mid-turn leaves in the database: a running turn under its lease, one queued behind.
    const store = openSqliteStore({ path: fx.dbPath });
    const base = { tenant: 'default', key: 'crash:1', backend: 'claude' as const, config: { cwd: fx.cwd }, labels: {}, owner: DEAD_OWNER, onBusy: 'queue' as const, maxQueue: 16, idleTimeoutMs: 3_600_000, maxSessions: 1000, onLimit: 'evict-lru' as const };
    const running = await store.enqueueTurn({ ...base, prompt: 'mid-crash', turnId: 'turn-running', newSessionId: 'unused-1' });
    await store.enqueueTurn({ ...base, prompt: 'waiting', turnId: 'turn-queued', newSessionId: 'unused-2' });
    const lease = await store.acquireLease({ sessionId: running.session.id, turnId: 'turn-running', owner: DEAD_OWNER, ttlMs: 3_600_000 });
    expect(lease.status).toBe('acquired');
    await store.close();

    const restarted = await fx.open();
    const turns = await restarted.turns('crash:1');
    expect(turns.map((t) => [t.prompt, t.status])).toEqual([
      ['before the crash', 'succeeded'],
      ['mid-crash', 'interrupted'],
      ['waiting', 'interrupted'],
    ]);
    expect(turns[1]!.error?.code).toBe('INTERRUPTED');
    expect(await restarted.peek('crash:1')).toMatchObject({ busy: false, queued: 0 });

    const after = await restarted.send('crash:1', 'after the restart').result;
    expect(after.text).toBe('Reply #2: after the restart');
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
