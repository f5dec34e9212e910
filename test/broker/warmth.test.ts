import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { createTether, type CreateTetherOptions } from '../../src/broker/create-tether.js';
import { ManualClock, settle } from '../../src/domain/clock.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { ScriptedBackend } from '../../src/testing/scripted-backend.js';

/**
 * wake and sleep through the broker with the scripted agent, a manual clock and no sleep: a
 * session's process started ahead of its next turn, ended early, and fenced like any runner.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(backend = new ScriptedBackend(), options: CreateTetherOptions = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(Date.UTC(2026, 10, 29));
  const tether = await createTether({ persistence: false, clock, backends: { claude: backend }, logLevel: 'silent', spares: 0, janitorIntervalSec: 0, env: {}, ...options });
  cleanups.push(() => tether.close({ graceMs: 0 }));
  return { tether, clock, backend };
}

/** A promise the test resolves: a script (or a wake) awaits it to hold mid-way. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Sends and returns the reply with where its agent process came from. */
async function turn(tether: Tether, key: string, prompt: string): Promise<{ text: string; runner: string | undefined }> {
  const handle = tether.send(key, prompt);
  const events: TetherEvent[] = [];
  for await (const e of handle) events.push(e);
  const started = events.find((e) => e.type === 'turn.started');
  return { text: (await handle.result).text, runner: started?.type === 'turn.started' ? started.runner : undefined };
}

describe('wake and sleep (scripted agent)', () => {
  it('wakes a hibernated session: woken, then awake; its next turn runs warm in the woken process', async () => {
    const { tether, backend } = await open();
    await turn(tether, 'k', 'one');
    expect(await tether.sleep('k')).toEqual({ slept: true });
    expect((await tether.stats()).runners).toMatchObject({ live: 0 });

    const woken = await tether.wake('k');
    expect(woken).toEqual({ status: 'woken', pid: expect.any(Number) });
    expect(backend.runners.at(-1)).toMatchObject({ woken: true, played: [] });
    expect((await tether.stats()).runners).toMatchObject({ live: 1, idle: 1, busy: 0 });
    expect(await tether.wake('k')).toEqual({ status: 'awake', pid: woken.pid });

    expect(await turn(tether, 'k', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(backend.runners).toHaveLength(2);
    expect(backend.runners[1]?.played).toEqual(['two']);
  });

  it('sleeps: ends the idle process, the session stays, and its next turn resumes cold; nothing to end then says so', async () => {
    const { tether, backend } = await open();
    await turn(tether, 'k', 'one');
    expect(await tether.sleep('k')).toEqual({ slept: true });
    expect(backend.runners[0]?.alive).toBe(false);
    expect(await tether.sleep('k')).toEqual({ slept: false });
    expect((await tether.get('k'))?.status).toBe('idle');
    expect(await turn(tether, 'k', 'two')).toEqual({ text: 'Reply #2: two', runner: 'cold' });
  });

  it('reports busy while a turn runs or waits, and never ends a process that runs a turn', async () => {
    const held = gate();
    const backend = new ScriptedBackend({
      script: async function* (t) {
        if (t.prompt === 'slow') await held.wait;
        yield { type: 'message', text: `done ${t.prompt}` };
      },
    });
    const { tether } = await open(backend);
    await turn(tether, 'k', 'first');
    const slow = tether.send('k', 'slow');
    await slow.accepted;
    await settle();
    expect(await tether.wake('k')).toEqual({ status: 'busy', pid: backend.runners[0]?.pid });
    expect(await tether.sleep('k')).toEqual({ slept: false });
    const queued = tether.send('k', 'queued');
    await queued.accepted;
    expect((await tether.wake('k')).status).toBe('busy');
    held.open();
    await slow.result;
    await queued.result;
    expect(backend.runners).toHaveLength(1);
    expect(backend.runners[0]?.played).toEqual(['first', 'slow', 'queued']);
    expect(await tether.wake('k')).toEqual({ status: 'awake', pid: backend.runners[0]?.pid });
  });

  it('answers NOT_FOUND for a key without a live session (unknown, or reset)', async () => {
    const { tether } = await open();
    await expect(tether.wake('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(tether.sleep('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await turn(tether, 'k', 'one');
    await tether.reset('k');
    await expect(tether.wake('k')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(tether.wake('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('starts nothing for a session without a conversation yet: new (its first turn starts it)', async () => {
    const held = gate();
    const backend = new ScriptedBackend({
      script: async function* (t) {
        await held.wait;
        yield { type: 'message', text: `done ${t.prompt}` };
      },
    });
    const { tether } = await open(backend, { maxLive: 1 });
    // The only slot is busy: k's first turn waits for it, and is interrupted before its agent starts.
    const other = tether.send('other', 'slow');
    await other.accepted;
    const first = tether.send('k', 'never');
    await first.accepted;
    await settle();
    await tether.interrupt('k');
    await expect(first.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await tether.get('k')).toMatchObject({ status: 'idle', agentSessionId: null });
    expect(await tether.wake('k')).toEqual({ status: 'new', pid: null });
    expect(backend.runners).toHaveLength(1);
    held.open();
    await other.result;
  });

  it('starts nothing for a backend whose process starts only with a turn (Codex): cold', async () => {
    const { tether, backend } = await open(new ScriptedBackend({ warm: false }));
    await turn(tether, 'k', 'one');
    await tether.sleep('k');
    expect(await tether.wake('k')).toEqual({ status: 'cold', pid: null });
    expect((await tether.stats()).runners.live).toBe(0);
    expect(await turn(tether, 'k', 'two')).toEqual({ text: 'Reply #2: two', runner: 'cold' });
    expect(backend.runners.filter((r) => r.played.length > 0)).toHaveLength(2);
  });

  it('reports a process that fails to start as AGENT_FAILED and keeps nothing of it', async () => {
    const { tether } = await open(new ScriptedBackend({ warm: async () => Promise.reject(new Error('no binary')) }));
    await turn(tether, 'k', 'one');
    await tether.sleep('k');
    await expect(tether.wake('k')).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringContaining('no binary') });
    await settle();
    expect((await tether.stats()).runners).toMatchObject({ live: 0 });
    expect(await turn(tether, 'k', 'two')).toEqual({ text: 'Reply #2: two', runner: 'cold' });
  });

  it('a turn that starts while its process is being woken waits for it and runs warm in it', async () => {
    const starting = gate();
    let holding = true;
    const { tether, backend } = await open(new ScriptedBackend({ warm: async () => (holding ? starting.wait : undefined) }));
    await turn(tether, 'k', 'one');
    await tether.sleep('k');
    const waking = tether.wake('k');
    await settle();
    const next = turn(tether, 'k', 'two');
    await settle();
    holding = false;
    starting.open();
    expect((await waking).status).toBe('woken');
    expect(await next).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(backend.runners).toHaveLength(2);
  });

  it('takes a slot at the cap from the least recently used idle runner, and refuses (LIMIT_REACHED) when every process runs a turn', async () => {
    const held = gate();
    const backend = new ScriptedBackend({
      script: async function* (t) {
        if (t.prompt === 'slow') await held.wait;
        yield { type: 'message', text: `done ${t.prompt}` };
      },
    });
    const { tether, clock } = await open(backend, { maxLive: 1 });
    await turn(tether, 'a', 'one');
    await tether.sleep('a');
    clock.advance(10);
    await turn(tether, 'b', 'one');
    // b's idle runner goes to make room for a's.
    expect((await tether.wake('a')).status).toBe('woken');
    expect(backend.runners.map((r) => r.alive)).toEqual([false, false, true]);
    // b runs a turn in the only slot (a's idle runner hibernated for it): nothing may go for a wake.
    const slow = tether.send('b', 'slow');
    await slow.accepted;
    await settle();
    await expect(tether.wake('a')).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    held.open();
    await slow.result;
  });
});

describe('wake across nodes sharing a store (scripted agent)', () => {
  /** Two Tethers on one SQLite file, standing for two nodes; the agent's conversations are the fleet's. */
  async function twoNodes() {
    const conversations = new Map<string, string[]>();
    const dir = mkdtempSync(join(tmpdir(), 'tether-wake-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const clock = new ManualClock(Date.now());
    const node = async () => {
      const backend = new ScriptedBackend({ conversations });
      return open(backend, { db: join(dir, 'tether.db'), persistence: true, clock });
    };
    return { a: await node(), b: await node(), conversations };
  }

  it('a turn run on another node after a wake makes the woken process stale: the next turn here is not warm in it', async () => {
    const { a, b, conversations } = await twoNodes();
    await turn(a.tether, 'k', 'one');
    await a.tether.sleep('k');
    expect((await a.tether.wake('k')).status).toBe('woken');
    const woken = a.backend.runners[1]!;
    // The next turn runs on the other node, under the next lease epoch.
    expect(await turn(b.tether, 'k', 'two')).toEqual({ text: 'Reply #2: two', runner: 'cold' });
    // Here the woken process missed that turn: it is retired, and the turn resumes cold.
    expect(await turn(a.tether, 'k', 'three')).toEqual({ text: 'Reply #3: three', runner: 'cold' });
    expect(woken).toMatchObject({ alive: false, played: [] });
    expect(conversations.size).toBe(1);
  });

  it('a wake after a turn ran elsewhere replaces the stale process instead of calling it awake', async () => {
    const { a, b } = await twoNodes();
    await turn(a.tether, 'k', 'one');
    await turn(b.tether, 'k', 'two');
    // a's runner ran turn one only: stale.
    expect((await a.tether.wake('k')).status).toBe('woken');
    expect(a.backend.runners.map((r) => r.alive)).toEqual([false, true]);
    expect(await turn(a.tether, 'k', 'three')).toEqual({ text: 'Reply #3: three', runner: 'warm' });
    expect(a.backend.runners[1]?.played).toEqual(['three']);
  });
});
