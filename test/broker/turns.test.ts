import { afterEach, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { createTether, type CreateTetherOptions } from '../../src/broker/create-tether.js';
import { ManualClock, settle } from '../../src/domain/clock.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { ScriptedBackend, untilInterrupted } from '../../src/testing/scripted-backend.js';

/**
 * Turns through the whole broker — accept, lease, runner, outcome — with the scripted backend,
 * an in-memory store and a manual clock: no agent process, no sleep.
 */

const opened: Tether[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close({ graceMs: 0 })));
});

async function open(backend = new ScriptedBackend(), options: CreateTetherOptions = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(Date.UTC(2026, 10, 29));
  const tether = await createTether({ persistence: false, clock, backends: { claude: backend }, logLevel: 'silent', spares: 0, janitorIntervalSec: 0, env: {}, ...options });
  opened.push(tether);
  return { tether, clock, backend };
}

/** A promise the test resolves: a script awaits it to hold its turn mid-way. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const types = (events: TetherEvent[]): string[] => events.map((e) => e.type);

async function collect(iterable: AsyncIterable<TetherEvent>): Promise<TetherEvent[]> {
  const out: TetherEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

describe('a turn through the broker (scripted agent)', () => {
  it('journals, runs and reports a turn; its events are one stream, read whole by a late reader, as often as asked', async () => {
    const { tether } = await open();
    const turn = tether.send('k', 'hello');
    expect(await turn.accepted).toMatchObject({ seq: 1 });
    const result = await turn.result;
    expect(result).toMatchObject({ type: 'turn.completed', key: 'k', text: 'Reply #1: hello' });
    const first = await collect(turn);
    expect(types(first)).toEqual(['turn.queued', 'turn.started', 'message', 'turn.completed']);
    expect(first[1]).toMatchObject({ runner: 'cold', resumed: false });
    expect(types(await collect(turn))).toEqual(types(first));
    const streamed = [];
    for await (const item of tether.turnEvents(result.turnId)) streamed.push(item);
    expect(streamed.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    expect(streamed.map((i) => i.event)).toEqual(first);
    expect((await tether.getTurn(result.turnId))?.status).toBe('succeeded');
  });

  it("continues one conversation in the session's warm runner", async () => {
    const { tether, backend } = await open();
    await tether.send('k', 'one').result;
    const two = tether.send('k', 'two');
    expect((await two.result).text).toBe('Reply #2: two');
    expect((await collect(two)).find((e) => e.type === 'turn.started')).toMatchObject({ runner: 'warm', resumed: true });
    expect(backend.runners).toHaveLength(1);
    expect([...backend.conversations.values()]).toEqual([['one', 'two']]);
  });

  it('queues a second turn behind a running one, first come first served, and refuses it with onBusy reject', async () => {
    const held = gate();
    const backend = new ScriptedBackend({
      script: async function* (turn) {
        if (turn.prompt === 'slow') await held.wait;
        yield { type: 'message', text: `done ${turn.prompt}` };
      },
    });
    const { tether } = await open(backend);
    const slow = tether.send('k', 'slow');
    await slow.accepted;
    const next = tether.send('k', 'next');
    const queued = (await collect(takeUntil(next, 'turn.queued')))[0];
    expect(queued).toMatchObject({ type: 'turn.queued', position: 0 });
    await expect(tether.send('k', 'busy', { onBusy: 'reject' }).result).rejects.toMatchObject({ code: 'SESSION_BUSY' });
    expect(await tether.peek('k')).toMatchObject({ busy: true, queued: 1 });
    held.open();
    expect((await slow.result).text).toBe('done slow');
    expect((await next.result).text).toBe('done next');
    expect((await tether.turns('k')).map((t) => [t.prompt, t.status])).toEqual([
      ['slow', 'succeeded'],
      ['next', 'succeeded'],
    ]);
  });

  it('interrupts a running turn: journaled interrupted, the runner stays usable for the next turn', async () => {
    const backend = new ScriptedBackend({
      script: async function* (turn) {
        if (turn.prompt === 'forever') await new Promise((resolve) => turn.signal.addEventListener('abort', resolve));
        yield { type: 'message', text: 'ok' };
      },
    });
    const { tether } = await open(backend);
    const turn = tether.send('k', 'forever');
    await waitForEvent(turn, 'turn.started');
    expect(await tether.interrupt('k')).toEqual({ turnId: (await turn.accepted).turnId });
    await expect(turn.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect((await tether.turns('k'))[0]?.status).toBe('interrupted');
    expect((await tether.send('k', 'after').result).text).toBe('ok');
  });

  it('withdraws a queued turn whose signal aborts before it starts', async () => {
    const held = gate();
    const backend = new ScriptedBackend({
      script: async function* () {
        await held.wait;
        yield { type: 'message', text: 'ok' };
      },
    });
    const { tether } = await open(backend);
    const first = tether.send('k', 'first');
    await first.accepted;
    const abort = new AbortController();
    const second = tether.send('k', 'second', { signal: abort.signal });
    await second.accepted;
    abort.abort();
    await expect(second.result).rejects.toMatchObject({ code: 'INTERRUPTED', message: 'the turn was withdrawn before it started' });
    held.open();
    await first.result;
    expect((await tether.turns('k')).map((t) => t.status)).toEqual(['succeeded', 'interrupted']);
  });

  it('stops a turn that runs past maxTurnDuration, on the injected clock', async () => {
    const { tether, clock } = await open(new ScriptedBackend({ script: untilInterrupted }), { maxTurnDurationSec: 60, leaseTtlMs: 600_000 });
    const turn = tether.send('k', 'long');
    await waitForEvent(turn, 'turn.started');
    await clock.advanceAsync(59_000);
    expect((await tether.peek('k')).busy).toBe(true);
    await clock.advanceAsync(1_000);
    await expect(turn.result).rejects.toMatchObject({ code: 'INTERRUPTED', message: expect.stringContaining('maxTurnDuration (60 s)') });
  });

  it('keeps a turn whose process stalled past 60% of the TTL when the store still holds its lease', async () => {
    const { tether, clock } = await open(new ScriptedBackend({ script: untilInterrupted }), { leaseTtlMs: 6_000 });
    const turn = tether.send('k', 'stalls');
    await waitForEvent(turn, 'turn.started');
    // Every timer due in 5 s fires at once: a stalled process. Its one renewal then finds the
    // lease still its own, so the turn goes on.
    clock.advance(5_000);
    await clock.advanceAsync(2_000);
    expect((await tether.turns('k'))[0]?.status).toBe('running');
    await tether.interrupt('k');
    await expect(turn.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });

  it('stops a turn whose store leaves its lease renewals unanswered past 60% of the TTL: LEASE_LOST', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 29));
    const store = openSqliteStore({ path: ':memory:', clock });
    // The store answers everything but renewals (a connection that hangs on them).
    const hanging = new Proxy(store, {
      get: (target, name) => {
        if (name === 'renewLeases') return () => new Promise(() => undefined);
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { tether } = await open(new ScriptedBackend({ script: untilInterrupted }), { leaseTtlMs: 6_000, store: hanging, clock });
    const turn = tether.send('k', 'stalls');
    await waitForEvent(turn, 'turn.started');
    await clock.advanceAsync(6_000);
    await expect(turn.result).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await tether.turns('k'))[0]?.status).toBe('failed');
  });

  it('holds turns back, queued, while a usage limit holds, and runs them once the clock passes its reset', async () => {
    let limited = true;
    const backend = new ScriptedBackend({
      script: async function* (turn) {
        if (limited) {
          limited = false;
          return { error: { code: 'AGENT_UNAVAILABLE', message: 'usage limit' }, retryAt: Date.UTC(2026, 10, 29, 1) };
        }
        yield { type: 'message', text: `ran ${turn.prompt}` };
      },
    });
    const { tether, clock } = await open(backend);
    await expect(tether.send('k', 'hits the limit').result).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    const waiting = tether.send('other', 'waits');
    await waiting.accepted;
    await settle();
    expect((await tether.stats()).usageLimit?.until).toBe('2026-11-29T01:00:00.000Z');
    expect((await tether.turns('other'))[0]?.status).toBe('queued');
    await clock.advanceAsync(3_600_000);
    expect((await waiting.result).text).toBe('ran waits');
  });

  it('journals the prompt before an auto-compaction runs; the compaction goes first, then the prompt, on one warm runner', async () => {
    const compacting = gate();
    const backend = new ScriptedBackend({
      script: async function* (turn) {
        if (turn.prompt === '/compact') {
          await compacting.wait;
          yield { type: 'compacted', trigger: 'manual', preTokens: 150_000, postTokens: 5_000 };
          return { contextTokens: 5_000 };
        }
        yield { type: 'message', text: `re ${turn.prompt}` };
        return { contextTokens: 150_000 };
      },
    });
    const { tether } = await open(backend, { compactAt: { claude: 0.7 }, resetAt: { claude: 0.95 } });
    await tether.send('k', 'fills the window').result;
    const events: TetherEvent[] = [];
    tether.on('*', (e) => events.push(e));
    const next = tether.send('k', 'next');
    // Acknowledged while the compaction has not even finished.
    expect(await next.accepted).toMatchObject({ seq: 3 });
    expect((await tether.turns('k')).map((t) => [t.prompt, t.status])).toEqual([
      ['fills the window', 'succeeded'],
      ['/compact', 'running'],
      ['next', 'queued'],
    ]);
    compacting.open();
    expect((await next.result).text).toBe('re next');
    expect(events.filter((e) => e.type === 'session.compacted')).toMatchObject([{ preTokens: 150_000, postTokens: 5_000 }]);
    // Nothing waits ahead of it but the running compaction: it runs next.
    expect((await collect(next)).find((e) => e.type === 'turn.queued')).toMatchObject({ position: 0 });
    expect(backend.runners).toHaveLength(1);
    expect((await tether.get('k'))?.generation).toBe(1);
  });

  it('after a failed auto-compaction, runs the prompt on the whole conversation, then starts the next message in a new generation', async () => {
    const backend = new ScriptedBackend({
      script: async function* (turn) {
        if (turn.prompt === '/compact') return { error: { code: 'AGENT_FAILED', message: 'no summary' } };
        yield { type: 'message', text: `re ${turn.prompt}` };
        return { contextTokens: 150_000 };
      },
    });
    const { tether } = await open(backend, { compactAt: { claude: 0.7 }, resetAt: { claude: 0.95 } });
    await tether.send('k', 'fills the window').result;
    expect((await tether.send('k', 'next').result).text).toBe('re next');
    expect((await tether.get('k'))?.closeReason).toBe('context');
    await tether.send('k', 'after').result;
    const session = await tether.get('k');
    expect(session?.generation).toBe(2);
    // The new conversation opens with a recap of the last exchanges.
    expect(backend.runners.at(-1)?.played[0]).toContain('User: next');
  });
});

/** The handle's events up to and including the first of `type`. */
async function* takeUntil(events: AsyncIterable<TetherEvent>, type: TetherEvent['type']): AsyncGenerator<TetherEvent> {
  for await (const e of events) {
    yield e;
    if (e.type === type) return;
  }
}

async function waitForEvent(events: AsyncIterable<TetherEvent>, type: TetherEvent['type']): Promise<TetherEvent> {
  for await (const e of events) if (e.type === type) return e;
  throw new Error(`the stream ended without ${type}`);
}
