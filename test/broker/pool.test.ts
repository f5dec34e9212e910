import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunnerSpec } from '../../src/agents/agent.js';
import { RunnerPool, type LentRunner } from '../../src/broker/runners/pool.js';
import { ManualClock, settle } from '../../src/domain/clock.js';
import type { SessionRecord } from '../../src/domain/types.js';
import { ScriptedBackend } from '../../src/testing/scripted-backend.js';

/** The runner pool over the scripted backend: warm reuse, staleness, the cap, pins and spares. */

const pools: RunnerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(options: { maxLive?: number; spares?: number; idleMs?: number } = {}) {
  const backend = new ScriptedBackend({ spares: (options.spares ?? 0) > 0 });
  const clock = new ManualClock(0);
  const p = new RunnerPool({
    backends: { claude: backend },
    spareBackend: backend,
    maxLive: options.maxLive ?? 4,
    idleMs: options.idleMs ?? 60_000,
    spares: options.spares ?? 0,
    env: {},
    clock,
    logger: pino({ level: 'silent' }),
  });
  pools.push(p);
  return { pool: p, backend, clock };
}

function session(id: string, agentSessionId: string | null = null, config: SessionRecord['config'] = { cwd: '/tmp' }): SessionRecord {
  return { id, backend: 'claude', agentSessionId, config } as SessionRecord;
}

const spec = (s: SessionRecord): RunnerSpec => ({ config: s.config, resume: s.agentSessionId, env: {} });
const never = new AbortController().signal;

/** Lends a runner for the turn holding `epoch`, and gives it back as a finished turn would. */
async function turn(p: RunnerPool, s: SessionRecord, epoch: number, queued = 0): Promise<LentRunner['source']> {
  const lent = await p.acquire(s, epoch, spec(s), never);
  lent.release({ ok: true, epoch, agentSessionId: s.agentSessionId, queued });
  return lent.source;
}

describe('RunnerPool', () => {
  it("serves a session's next turn from its warm runner, and a turn that missed one (a stale epoch) from a new one", async () => {
    const { pool: p, backend } = pool();
    const s = session('s1', 'conv-1');
    expect(await turn(p, s, 1)).toBe('cold');
    expect(await turn(p, s, 2)).toBe('warm');
    // Epoch 4: turn 3 ran elsewhere, so this runner's conversation is behind.
    expect(await turn(p, s, 4)).toBe('cold');
    await settle();
    expect(backend.runners.map((r) => r.alive)).toEqual([false, true]);
  });

  it('switches a warm runner to new settings in place', async () => {
    const { pool: p, backend } = pool();
    expect(await turn(p, session('s1', 'c', { cwd: '/tmp' }), 1)).toBe('cold');
    expect(await turn(p, session('s1', 'c', { cwd: '/tmp', model: 'opus' }), 2)).toBe('warm');
    expect(backend.runners[0]?.settings.model).toBe('opus');
  });

  it('never holds more than maxLive processes: a new session hibernates the least recently used idle runner', async () => {
    const { pool: p, backend, clock } = pool({ maxLive: 2 });
    await turn(p, session('a', 'ca'), 1);
    clock.advance(10);
    await turn(p, session('b', 'cb'), 1);
    clock.advance(10);
    await turn(p, session('a', 'ca'), 2);
    await turn(p, session('c', 'cc'), 1);
    await settle();
    expect(p.stats).toMatchObject({ live: 2, maxLive: 2 });
    // b was used least recently: it went.
    expect(backend.runners.map((r) => [r.played.length, r.alive])).toEqual([
      [0, true],
      [0, false],
      [0, true],
    ]);
  });

  it('makes a turn wait, first come first served, while every process is busy', async () => {
    const { pool: p } = pool({ maxLive: 1 });
    const a = await p.acquire(session('a'), 1, spec(session('a')), never);
    const order: string[] = [];
    const b = p.acquire(session('b'), 1, spec(session('b')), never).then((l) => (order.push('b'), l));
    const c = p.acquire(session('c'), 1, spec(session('c')), never).then((l) => (order.push('c'), l));
    await settle();
    expect(p.stats.waiting).toBe(2);
    a.release({ ok: true, epoch: 1, agentSessionId: null });
    (await b).release({ ok: true, epoch: 1, agentSessionId: null });
    await c;
    expect(order).toEqual(['b', 'c']);
  });

  it("keeps a released runner pinned for its session's queued turn, until the pin lapses on the clock", async () => {
    const { pool: p, clock } = pool({ maxLive: 1 });
    await turn(p, session('a', 'ca'), 1, 1);
    let got = false;
    const b = p.acquire(session('b'), 1, spec(session('b')), never).then((l) => ((got = true), l));
    await settle();
    expect(got).toBe(false);
    await clock.advanceAsync(2_001);
    (await b).release({ ok: true, epoch: 1, agentSessionId: null });
    expect(got).toBe(true);
  });

  it('gives a waiting turn up when its signal aborts', async () => {
    const { pool: p } = pool({ maxLive: 1 });
    await p.acquire(session('a'), 1, spec(session('a')), never);
    const abort = new AbortController();
    const waiting = p.acquire(session('b'), 1, spec(session('b')), abort.signal);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });

  it('hibernates idle runners past their idle time, and replaces a runner that died', async () => {
    const { pool: p, backend, clock } = pool({ idleMs: 1_000 });
    await turn(p, session('a', 'ca'), 1);
    clock.advance(1_000);
    expect(p.sweep()).toBe(1);
    await settle();
    expect(p.stats.live).toBe(0);
    await turn(p, session('b', 'cb'), 1);
    backend.runners.at(-1)!.crash();
    expect(await turn(p, session('b', 'cb'), 2)).toBe('cold');
  });

  it('starts a new conversation on a parked spare and parks another', async () => {
    const { pool: p, backend } = pool({ spares: 1 });
    p.start();
    await settle();
    expect(p.stats.spares).toBe(1);
    expect(await turn(p, session('a'), 1)).toBe('spare');
    await settle();
    expect(p.stats.spares).toBe(1);
    // A resumed conversation never takes a spare.
    expect(await turn(p, session('b', 'cb'), 1)).toBe('cold');
    expect(backend.runners).toHaveLength(2);
  });

  it("wakes a session's process with the epoch of its last turn: the next turn takes it warm, a turn that missed one does not", async () => {
    const { pool: p, backend } = pool();
    const s = session('s1', 'conv-1');
    expect(await p.wake(s, 3, spec(s))).toEqual({ status: 'woken', pid: expect.any(Number) });
    expect(await p.wake(s, 3, spec(s))).toMatchObject({ status: 'awake' });
    expect(p.stats).toMatchObject({ live: 1, idle: 1 });
    expect(await turn(p, s, 4)).toBe('warm');
    expect(await p.hibernate('s1')).toBe(true);
    expect(await p.hibernate('s1')).toBe(false);
    expect(p.stats.live).toBe(0);
    await p.wake(s, 4, spec(s));
    // Epoch 6: turn 5 ran elsewhere.
    expect(await turn(p, s, 6)).toBe('cold');
    await settle();
    expect(backend.runners.map((r) => [r.woken, r.alive])).toEqual([
      [true, false],
      [true, false],
      [false, true],
    ]);
  });

  it('wakes at the cap by hibernating the least recently used idle runner, but never waits, nor goes ahead of a waiting turn', async () => {
    const { pool: p, backend } = pool({ maxLive: 1 });
    await turn(p, session('a', 'ca'), 1);
    expect((await p.wake(session('b', 'cb'), 1, spec(session('b', 'cb')))).status).toBe('woken');
    expect(backend.runners.map((r) => r.alive)).toEqual([false, true]);
    // Every process runs a turn: refused at once.
    const busy = await p.acquire(session('c', 'cc'), 1, spec(session('c', 'cc')), never);
    await expect(p.wake(session('a', 'ca'), 1, spec(session('a', 'ca')))).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    // A turn waits for the slot: a wake does not take it first.
    const waiting = p.acquire(session('d', 'cd'), 1, spec(session('d', 'cd')), never);
    await settle();
    expect(p.stats.waiting).toBe(1);
    busy.release({ ok: true, epoch: 1, agentSessionId: 'cc' });
    await expect(p.wake(session('a', 'ca'), 1, spec(session('a', 'ca')))).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    (await waiting).release({ ok: true, epoch: 1, agentSessionId: 'cd' });
    expect(p.stats).toMatchObject({ live: 1, waiting: 0 });
  });

  it('ends every process on close, and refuses turns after', async () => {
    const { pool: p, backend } = pool();
    await turn(p, session('a', 'ca'), 1);
    await turn(p, session('b', 'cb'), 1);
    await p.close();
    expect(backend.live).toBe(0);
    await expect(p.acquire(session('c'), 1, spec(session('c')), never)).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
  });
});
