import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

describe('nodes sharing a store', () => {
  let fx: AgentFixture;
  let store: SqliteStore | undefined;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await fx.cleanup();
  });

  it('a Tether heartbeats while it runs and says goodbye when it closes', async () => {
    // A heartbeat lasts one lease TTL and is renewed every third of it.
    const clock = new ManualClock(Date.now());
    const a = await fx.open({ leaseTtlMs: 1_200, clock });
    const b = await fx.open({ leaseTtlMs: 1_200, clock });
    store = openSqliteStore({ path: fx.dbPath, clock });
    expect(await store.liveOwners()).toHaveLength(2);
    // Well past the first beats' TTL: only renewed heartbeats keep both alive.
    await clock.advanceAsync(2_500);
    expect(await store.liveOwners()).toHaveLength(2);
    await a.close();
    expect(await store.liveOwners()).toHaveLength(1);
    await b.close();
    expect(await store.liveOwners()).toHaveLength(0);
  });

  it("adopts the queued turns of a node on another host once its heartbeat has expired, not before", async () => {
    store = openSqliteStore({ path: fx.dbPath });
    // A node elsewhere accepted a prompt, beat once, and vanished.
    const remote = 'other-host:4242:0:feedface';
    await store.heartbeat(remote, 60_000);
    const queued = await store.enqueueTurn({
      tenant: 'default', key: 'remote:1', backend: 'claude', config: { cwd: fx.cwd }, labels: {}, prompt: 'accepted elsewhere',
      owner: remote, turnId: crypto.randomUUID(), newSessionId: crypto.randomUUID(), onBusy: 'queue', maxQueue: 10,
      idleTimeoutMs: 0, maxSessions: 100, onLimit: 'evict-lru',
    });
    const tether = await fx.open();
    expect((await tether.gc()).adopted).toBe(0);
    expect((await store.getTurn(queued.turn.id))?.status).toBe('queued');

    await store.heartbeat(remote, 0);
    expect((await tether.gc()).adopted).toBe(1);
    for await (const { event } of tether.turnEvents(queued.turn.id)) if (event.type === 'turn.completed' || event.type === 'turn.failed') break;
    expect(await store.getTurn(queued.turn.id)).toMatchObject({ status: 'succeeded', text: 'Reply #1: accepted elsewhere' });
  });
});

describe('shared events between nodes on one store (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it("a node's listeners and turn streams see the turns another node runs, numbered as there", async () => {
    const a = await fx.open({ shareEvents: true });
    const b = await fx.open({ shareEvents: true });
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    a.on('*', (e) => seenByA.push(`${e.type}:${e.key}`));
    b.on('*', (e) => seenByB.push(`${e.type}:${e.key}`));

    fx.mock.enqueue({ text: 'slow and steady', delayMs: 400 });
    const handle = a.send('shared:1', 'hello');
    const { turnId } = await handle.accepted;
    const local: Array<[number, string]> = [];
    const localDone = (async () => {
      for await (const { seq, event } of a.turnEvents(turnId)) local.push([seq, event.type]);
    })();
    // B joins while the turn runs on A.
    const remote: Array<[number, string]> = [];
    for await (const { seq, event } of b.turnEvents(turnId)) remote.push([seq, event.type]);
    await localDone;
    await handle.result;

    expect(remote).toEqual(local);
    expect(remote.at(-1)).toEqual([expect.any(Number), 'turn.completed']);
    // B's listeners are fed by its tail of the journal, its turn stream by its own read of the
    // turn: two readers, so on a busy machine the stream can end first.
    await expect.poll(() => seenByB.includes('turn.completed:shared:1'), { timeout: 10_000 }).toBe(true);
    // A node does not read back its own events. A turn of A that B sees is the sync point: the
    // shared journal is read in order, so by then each node has read past its own earlier events.
    await b.send('shared:2', 'from b').result;
    await a.send('shared:3', 'from a again').result;
    await expect.poll(() => seenByB.includes('turn.completed:shared:3'), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => seenByA.includes('turn.completed:shared:2'), { timeout: 10_000 }).toBe(true);
    const count = (seen: string[], what: string) => seen.filter((t) => t === what).length;
    expect(count(seenByA, 'turn.completed:shared:1')).toBe(1);
    expect(count(seenByA, 'turn.completed:shared:2')).toBe(1);
    expect(count(seenByB, 'turn.completed:shared:1')).toBe(1);
    expect(count(seenByB, 'turn.completed:shared:2')).toBe(1);
  });

  it('an interrupt asked of one node stops the turn another node runs, at its next renewal', async () => {
    // Renewals every second; a shorter TTL would have a busy machine give the lease up instead.
    const a = await fx.open({ leaseTtlMs: 6_000 });
    const b = await fx.open({ leaseTtlMs: 6_000 });
    // Far longer than a renewal period: only the interrupt can end this turn as INTERRUPTED.
    fx.mock.enqueue({ text: 'a very long answer', delayMs: 20_000 });
    const handle = a.send('stop:1', 'go on for a while');
    const { turnId } = await handle.accepted;
    await expect.poll(async () => (await b.getTurn(turnId))?.status, { timeout: 10_000 }).toBe('running');
    expect(await b.interrupt('stop:1')).toEqual({ turnId });
    await expect(handle.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await b.getTurn(turnId)).toMatchObject({ status: 'interrupted', interruptRequested: true });
    // Nothing runs now: no turn to stop; the session goes on.
    expect(await b.interrupt('stop:1')).toEqual({ turnId: null });
    fx.mock.reset();
    expect((await b.send('stop:1', 'after').result).text).toMatch(/after$/);
  });
});
