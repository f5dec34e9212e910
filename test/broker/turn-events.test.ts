import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SequencedEvent, Tether } from '../../src/broker/api.js';
import { createTether } from '../../src/broker/create-tether.js';
import { MemoryTurnEvents } from '../../src/broker/turn-events/memory.js';
import { ManualClock, settle } from '../../src/domain/clock.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { ScriptedBackend, type Script } from '../../src/testing/scripted-backend.js';

const event = (turnId: string, type: TetherEvent['type'] = 'text.delta'): TetherEvent =>
  ({ type, tenant: 't', key: 'k', turnId, sessionId: 's', text: 'x', at: 'now', error: { code: 'X', message: 'x' } }) as TetherEvent;

async function read(stream: AsyncIterable<SequencedEvent> | null): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const item of stream ?? []) out.push([item.seq, item.event.type]);
  return out;
}

describe('MemoryTurnEvents', () => {
  it('numbers each turn’s events from 1 and replays them after a given number, then ends at the terminal event', async () => {
    const events = new MemoryTurnEvents({ clock: new ManualClock(0), retainMs: 60_000, maxTurns: 10 });
    expect(events.append(event('a'))?.seq).toBe(1);
    expect(events.append(event('b'))?.seq).toBe(1);
    events.append(event('a'));
    const live = read(events.follow('a', 1));
    events.append(event('a', 'turn.completed'));
    expect(await live).toEqual([[2, 'text.delta'], [3, 'turn.completed']]);
    expect(await read(events.follow('a', 3))).toEqual([]);
    expect(events.follow('nobody', 0)).toBeNull();
    expect(events.append({ type: 'session.created', tenant: 't', key: 'k', sessionId: 's', generation: 1, at: 'now' })).toBeNull();
  });

  it('forgets finished turns after the retention time or past the turn cap, but never under a reader holding one', async () => {
    const clock = new ManualClock(0);
    const events = new MemoryTurnEvents({ clock, retainMs: 60_000, maxTurns: 2 });
    events.append(event('old', 'turn.completed'));
    const held = events.follow('old', 0);
    clock.advance(61_000);
    for (const id of ['x', 'y', 'z']) events.append(event(id, 'turn.completed'));
    expect(events.follow('old', 0)).toBeNull();
    expect(events.follow('x', 0)).toBeNull();
    expect(await read(events.follow('z', 0))).toEqual([[1, 'turn.completed']]);
    // A reader that took the stream before it was forgotten still reads it whole.
    expect(await read(held)).toEqual([[1, 'turn.completed']]);
  });

  it('continues the numbering of a turn another process began, when told its last number', async () => {
    const events = new MemoryTurnEvents({ clock: new ManualClock(0), retainMs: 1, maxTurns: 1 });
    events.log('adopted', 4);
    expect(events.append(event('adopted'))?.seq).toBe(5);
  });
});

describe('JournalTurnEvents: processes sharing a store (scripted agent)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function twoNodes(script?: Script, shareEvents = true) {
    // The agent's conversations are the fleet's (Claude Code's live in the store's mirror).
    const conversations = new Map<string, string[]>();
    const dir = mkdtempSync(join(tmpdir(), 'tether-events-'));
    const db = join(dir, 'tether.db');
    const clock = new ManualClock(Date.now());
    const open = async (backend: ScriptedBackend): Promise<Tether> => {
      const t = await createTether({ db, clock, shareEvents, backends: { claude: backend }, logLevel: 'silent', spares: 0, janitorIntervalSec: 0, env: {} });
      cleanups.push(() => t.close({ graceMs: 0 }));
      return t;
    };
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const a = await open(new ScriptedBackend({ conversations, ...(script ? { script } : {}) }));
    const b = await open(new ScriptedBackend({ conversations }));
    /** Lets the journal writes (every 20 ms) and reads (every 100 ms) happen. */
    const pass = (): Promise<void> => clock.advanceAsync(250);
    return { a, b, clock, db, pass };
  }

  it("a node's readers and listeners see another node's turn, numbered as there, each event once", async () => {
    const { a, b, pass } = await twoNodes();
    const seenByB: string[] = [];
    b.on('*', (e) => seenByB.push(e.type));
    const turn = a.send('k', 'hello');
    const { turnId } = await turn.accepted;
    const onA = await read(a.turnEvents(turnId));
    await pass();
    expect(await read(b.turnEvents(turnId))).toEqual(onA);
    expect(await read(b.turnEvents(turnId, { afterSeq: 2 }))).toEqual(onA.slice(2));
    expect(seenByB).toEqual(['session.created', 'turn.queued', 'turn.started', 'message', 'turn.completed']);
    await pass();
    expect(seenByB).toHaveLength(5);
  });

  it("a follower on one node gets another node's turn live, ending with it", async () => {
    const { a, b, pass } = await twoNodes();
    const first = a.send('k', 'one');
    const { turnId } = await first.accepted;
    await pass();
    const following = read(b.turnEvents(turnId));
    await first.result;
    await pass();
    expect((await following).map(([, type]) => type)).toEqual(['turn.queued', 'turn.started', 'message', 'turn.completed']);
  });

  it("a turn queued behind another node's turn starts as soon as that one's end reaches its node", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { a, b, clock, pass } = await twoNodes(async function* (turn) {
      await held;
      yield { type: 'message', text: `from a: ${turn.prompt}` };
    });
    const onA = a.send('k', 'first');
    await onA.accepted;
    const onB = b.send('k', 'second');
    await onB.accepted;
    await pass();
    expect((await b.turns('k')).map((t) => t.status)).toEqual(['running', 'queued']);
    release();
    await onA.result;
    // The end of A's turn reaches B through the journal (a tail read, 100 ms at most), which
    // wakes B's waiting turn at once: well before B would look again by itself (500 ms).
    await clock.advanceAsync(150);
    await settle();
    expect((await b.turns('k')).map((t) => t.status)).toEqual(['succeeded', 'succeeded']);
    expect((await onB.result).text).toBe('Reply #2: second');
  });

  it('numbers the events of a turn adopted from a node that died after its queued event, after that one', async () => {
    const { b, db, clock, pass } = await twoNodes();
    const store = openSqliteStore({ path: db, clock });
    cleanups.push(() => store.close());
    const dead = 'gone-host:1:0:dead';
    const queued = await store.enqueueTurn({
      tenant: 'default', key: 'adopt', backend: 'claude', config: { cwd: process.cwd() }, labels: {}, prompt: 'accepted by the dead node',
      owner: dead, turnId: randomUUID(), newSessionId: randomUUID(), onBusy: 'queue', maxQueue: 10, idleTimeoutMs: 0, maxSessions: 100, onLimit: 'evict-lru',
    });
    const { turn, session } = queued;
    await store.appendEvents([{ tenant: 'default', turnId: turn.id, seq: 1, origin: dead, event: { type: 'turn.queued', tenant: 'default', key: 'adopt', turnId: turn.id, sessionId: session.id, seq: 1, position: 0, at: 'then' } }]);
    expect((await b.gc()).adopted).toBe(1);
    await pass();
    await settle();
    const stream = await read(b.turnEvents(turn.id));
    expect(stream).toEqual([[1, 'turn.queued'], [2, 'turn.started'], [3, 'message'], [4, 'turn.completed']]);
    expect((await store.getTurn(turn.id))?.status).toBe('succeeded');
  });

  it("without sharing, a reader of another process's turn gets its outcome from the journal once it ends", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { a, b, clock } = await twoNodes(async function* () {
      await held;
      yield { type: 'message', text: 'done at last' };
    }, false);
    const turn = a.send('k', 'long');
    const { turnId } = await turn.accepted;
    const following = read(b.turnEvents(turnId));
    await clock.advanceAsync(1_000);
    release();
    await turn.result;
    await clock.advanceAsync(2_000);
    expect(await following).toEqual([[0, 'turn.completed']]);
  });
});
