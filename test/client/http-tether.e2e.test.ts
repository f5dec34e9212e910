import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SequencedEvent, Tether } from '../../src/broker/api.js';
import { connectTether } from '../../src/client/index.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { sessionToJSON, turnToJSON } from '../../src/domain/json.js';
import { startCuttingProxy, startDaemon, type CuttingProxy, type Daemon } from './daemon.js';

/** The client against the real daemon (fastify app, real agent binary, mock Messages API). */
describe('connectTether against the daemon', () => {
  let daemon: Daemon;
  let client: Tether;
  let proxy: CuttingProxy | undefined;

  beforeAll(async () => {
    daemon = await startDaemon();
    client = connectTether({ url: daemon.url });
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    daemon.fx.mock.reset();
  });
  afterAll(async () => {
    await client?.close({ graceMs: 0 });
    await daemon?.stop();
  });

  async function collect(events: AsyncIterable<TetherEvent>): Promise<TetherEvent[]> {
    const out: TetherEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
  }

  /** What the daemon's own Tether logged for the turn: the truth a client's view must equal. */
  async function logged(turnId: string): Promise<SequencedEvent[]> {
    const out: SequencedEvent[] = [];
    for await (const e of daemon.tether.turnEvents(turnId)) out.push(e);
    return out;
  }

  it('continues one conversation over two sends, and reads back what the daemon holds', async () => {
    const first = client.send('lib:1', 'hello', { labels: { via: 'http' }, maxTurns: 2 });
    const events = await collect(first);
    expect(events[0]).toMatchObject({ type: 'turn.queued', key: 'lib:1', tenant: 'default' });
    expect(events.map((e) => e.type)).toContain('text.delta');
    expect(await first.result).toMatchObject({ type: 'turn.completed', text: 'Reply #1: hello' });
    const accepted = await first.accepted;
    expect(events).toEqual((await logged(accepted.turnId)).map((e) => e.event));

    const second = client.send('lib:1', 'again');
    expect((await second.result).text).toBe('Reply #2: again');
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['hello', 'again']);

    const mine = await client.get('lib:1');
    const truth = await daemon.tether.get('lib:1');
    expect(mine && sessionToJSON(mine)).toEqual(truth && sessionToJSON(truth));
    expect(mine).toMatchObject({ labels: { via: 'http' }, config: { maxTurns: 2 }, turns: 2, lease: null });
    expect((await client.list()).map(sessionToJSON)).toEqual((await daemon.tether.list()).map(sessionToJSON));
    expect((await client.list({ labels: { via: 'http' } })).map((s) => s.key)).toEqual(['lib:1']);
    expect(await client.list({ labels: { via: 'nope' } })).toEqual([]);
    expect((await client.turns('lib:1')).map(turnToJSON)).toEqual((await daemon.tether.turns('lib:1')).map(turnToJSON));
    const turn = await client.getTurn(accepted.turnId);
    expect(turn && turnToJSON(turn)).toMatchObject({ id: accepted.turnId, status: 'succeeded', text: 'Reply #1: hello' });
    expect(await client.peek('lib:1')).toMatchObject({ exists: true, busy: false, queued: 0 });

    expect(await client.get('lib:unknown')).toBeNull();
    expect(await client.getTurn('no-such-turn')).toBeNull();
    expect(await client.turns('lib:unknown')).toEqual([]);
    await expect(client.reset('lib:unknown')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.delete('lib:unknown')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const stats = await client.stats();
    expect(stats).toMatchObject({ tenant: 'default', sessions: { live: 1 }, turns: { succeeded: 2 } });
    expect(await client.readiness()).toEqual({ ready: true, store: { ok: true, kind: 'sqlite' }, agent: { ok: true } });

    const closed = await client.reset('lib:1');
    expect(closed).toMatchObject({ status: 'closed', generation: 1, closeReason: 'reset' });
    await client.delete('lib:1');
    expect(await client.get('lib:1')).toBeNull();
  });

  it('a stream cut mid-turn resumes from /v1/turns/{id}/events with Last-Event-ID, nothing repeated or lost', async () => {
    // The reply waits, so the turn is still running when the connection breaks after turn.started.
    daemon.fx.mock.enqueue({ text: 'slow and steady reply', delayMs: 800 });
    proxy = await startCuttingProxy(daemon.url, (head, index) => (index === 0 && head.startsWith('POST') ? '"type":"turn.started"' : null));
    const viaProxy = connectTether({ url: proxy.url });
    try {
      const handle = viaProxy.send('lib:cut', 'go');
      const events = await collect(handle);
      expect((await handle.result).text).toBe('slow and steady reply');
      const { turnId } = await handle.accepted;
      const truth = await logged(turnId);
      expect(events).toEqual(truth.map((e) => e.event));
      expect(new Set(events.map((e) => JSON.stringify(e))).size).toBe(events.length);

      const resumes = proxy.requests.filter((r) => r.startsWith('GET'));
      expect(resumes.length).toBeGreaterThanOrEqual(1);
      expect(resumes[0]).toContain(`GET /v1/turns/${turnId}/events`);
      // The cut came right after turn.started, the second event of the turn.
      expect(resumes[0]).toMatch(/last-event-id: 2\r?$/im);
    } finally {
      await viaProxy.close();
    }
  });

  it('interrupt() stops the running turn on the daemon', async () => {
    daemon.fx.mock.enqueue({ text: 'never seen', delayMs: 30_000 });
    const handle = client.send('lib:int', 'long job');
    const seen: string[] = [];
    for await (const e of handle) {
      seen.push(e.type);
      if (e.type === 'turn.started') handle.interrupt();
    }
    await expect(handle.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(seen.at(-1)).toBe('turn.failed');
    expect((await client.turns('lib:int')).map((t) => t.status)).toEqual(['interrupted']);
  });

  it('a busy key refuses with SESSION_BUSY when asked to', async () => {
    daemon.fx.mock.enqueue({ text: 'slow', delayMs: 1_500 });
    const slow = client.send('lib:busy', 'first');
    await slow.accepted;
    const busy = client.send('lib:busy', 'second', { onBusy: 'reject' });
    await expect(busy.accepted).rejects.toMatchObject({ code: 'SESSION_BUSY' });
    expect(await client.peek('lib:busy')).toMatchObject({ exists: true, busy: true });
    expect((await slow.result).text).toBe('slow');
  });

  it('turnEvents replays a finished turn, and resumes after a given seq', async () => {
    const handle = client.send('lib:replay', 'once');
    const { turnId } = await handle.accepted;
    await handle.result;
    const all: SequencedEvent[] = [];
    for await (const e of client.turnEvents(turnId)) all.push(e);
    expect(all).toEqual(await logged(turnId));
    const tail: SequencedEvent[] = [];
    for await (const e of client.turnEvents(turnId, { afterSeq: 2 })) tail.push(e);
    expect(tail).toEqual(all.slice(2));
    await expect(async () => {
      for await (const _ of client.turnEvents('no-such-turn')) void _;
    }).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('on() tails the daemon\'s events', async () => {
    const seen: TetherEvent[] = [];
    const off = client.on('*', (e) => seen.push(e));
    const types = (key: string): string[] => seen.filter((e) => e.key === key).map((e) => e.type);
    try {
      // The tail has no replay and connects in the background: send until one whole turn is seen.
      let key = '';
      for (let i = 0; i < 20 && !types(key).includes('session.created'); i++) {
        key = `lib:tail:${i}`;
        await client.send(key, 'watch me').result;
        await new Promise((r) => setTimeout(r, 50));
      }
      await expect.poll(() => types(key).at(-1)).toBe('turn.completed');
      expect(types(key)).toEqual(expect.arrayContaining(['session.created', 'turn.queued', 'turn.started', 'turn.completed']));
    } finally {
      off();
    }
  });
});

describe('connectTether against a daemon with tokens', () => {
  let daemon: Daemon;

  beforeAll(async () => {
    daemon = await startDaemon({ tokens: 'token-of-acme-0123456789=acme' });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('the token decides the tenant; without one or with a wrong one it is UNAUTHORIZED', async () => {
    for (const token of [undefined, 'not-the-token-0123456789']) {
      const anonymous = connectTether({ url: daemon.url, ...(token ? { token } : {}) });
      await expect(anonymous.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(anonymous.send('k', 'hi').accepted).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await anonymous.close();
    }
    const acme = connectTether({ url: daemon.url, token: 'token-of-acme-0123456789' });
    const handle = acme.send('acme:1', 'hello', { tenant: 'someone-else' });
    expect(await handle.result).toMatchObject({ tenant: 'acme', text: 'Reply #1: hello' });
    expect(await acme.get('acme:1')).toMatchObject({ tenant: 'acme' });
    expect(await daemon.tether.get('acme:1')).toBeNull(); // not the default tenant's
    await acme.close();
  });
});
