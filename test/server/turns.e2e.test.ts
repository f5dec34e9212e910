import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectSse, json, readSse, startServer, waitFor, type ServerFixture, type SseEvent } from './server-fixture.js';

/** Turns over HTTP: the real daemon on a real socket, the real agent against the mock API. */
describe('HTTP turns (real agent)', () => {
  let s: ServerFixture;
  beforeEach(async () => {
    s = await startServer();
  });
  afterEach(async () => s.stop());

  const sse = { accept: 'text/event-stream' };

  it('streams a turn as SSE in order, and the second turn continues the conversation', async () => {
    const first = await s.post('/v1/sessions/discord%3A42/messages', { prompt: 'first prompt' }, { headers: sse });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(first.headers.get('cache-control')).toBe('no-cache');
    expect(first.headers.get('x-accel-buffering')).toBe('no');
    const events = await collectSse(first);

    const types = events.map((e) => e.event);
    expect(types[0]).toBe('turn.queued');
    expect(types).toContain('turn.started');
    expect(types).toContain('text.delta');
    expect(types.at(-1)).toBe('turn.completed');
    // `event:` is the type; ids are the per-turn seq, 1, 2, 3… without gaps.
    for (const e of events) expect(e.data.type).toBe(e.event);
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.data.text).toBe('Reply #1: first prompt');
    expect(events.at(-1)!.data.key).toBe('discord:42');

    const second = await collectSse(await s.post('/v1/sessions/discord%3A42/messages', { prompt: 'second prompt' }, { headers: sse }));
    const done = second.at(-1)!;
    expect(done.event).toBe('turn.completed');
    expect(done.data.text).toBe('Reply #2: second prompt');
    expect(done.data.agentSessionId).toBe(events.at(-1)!.data.agentSessionId);
    expect(s.fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['first prompt', 'second prompt']);
  });

  it('answers JSON with the turn.completed payload; ?async=1 answers 202 and the turn can be polled', async () => {
    const res = await s.post('/v1/sessions/slack%3AT01%2FC02/messages', { prompt: 'hello', options: { labels: { team: 'a' } } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ type: 'turn.completed', key: 'slack:T01/C02', text: 'Reply #1: hello', tenant: 'default' });
    expect(body.usage.outputTokens).toBeGreaterThan(0);

    const queued = await s.post('/v1/sessions/slack%3AT01%2FC02/messages?async=1', { prompt: 'later' });
    expect(queued.status).toBe(202);
    const accepted = await json(queued);
    expect(accepted).toMatchObject({ status: 'queued', seq: 2, sessionId: body.sessionId });
    expect(queued.headers.get('location')).toBe(`/v1/turns/${accepted.turnId}`);

    const turn = await waitFor(async () => {
      const t = await json(await s.get(queued.headers.get('location')!));
      return t.status === 'succeeded' ? t : null;
    });
    expect(turn).toMatchObject({ id: accepted.turnId, key: 'slack:T01/C02', seq: 2, text: 'Reply #2: later', prompt: 'later' });

    const session = await json(await s.get('/v1/sessions/slack%3AT01%2FC02'));
    expect(session).toMatchObject({ key: 'slack:T01/C02', turns: 2, status: 'idle', labels: { team: 'a' } });
    const turns = await json(await s.get('/v1/sessions/slack%3AT01%2FC02/turns'));
    expect(turns.turns.map((t: { seq: number }) => t.seq)).toEqual([1, 2]);
    const listed = await json(await s.get('/v1/sessions?label=team=a'));
    expect(listed.sessions.map((x: { key: string }) => x.key)).toEqual(['slack:T01/C02']);
    expect((await json(await s.get('/v1/sessions?label=team=b'))).sessions).toEqual([]);
    const stats = await json(await s.get('/v1/stats'));
    expect(stats).toMatchObject({ tenant: 'default', turns: { succeeded: 2 } });
  });

  it('resumes a broken stream from Last-Event-ID without duplicates, and the turn is not cancelled', async () => {
    s.fx.mock.enqueue({ text: 'x', delayMs: 800 });
    const abort = new AbortController();
    const res = await s.post('/v1/sessions/reconnect%3A1/messages', { prompt: 'slow one' }, { headers: sse, signal: abort.signal });
    const firstTwo: SseEvent[] = [];
    for await (const e of readSse(res)) {
      firstTwo.push(e);
      if (firstTwo.length === 2) break;
    }
    abort.abort();
    expect(firstTwo.map((e) => e.id)).toEqual(['1', '2']);
    const turnId: string = firstTwo[0]!.data.turnId;

    const rest = await collectSse(await s.get(`/v1/turns/${turnId}/events`, { headers: { ...sse, 'last-event-id': '2' } }));
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.map((e) => Number(e.id))).toEqual(rest.map((_, i) => i + 3));
    expect(rest.at(-1)!.event).toBe('turn.completed');
    expect(rest.at(-1)!.data.text).toBe('x');
    const turn = await json(await s.get(`/v1/turns/${turnId}`));
    expect(turn.status).toBe('succeeded');

    // ?after= is the same thing for clients that cannot set headers.
    const tail = await collectSse(await s.get(`/v1/turns/${turnId}/events?after=${rest.length + 1}`));
    expect(tail.map((e) => e.event)).toEqual(['turn.completed']);
  });

  it('tails every event of the tenant on /v1/events, with keep-alives', async () => {
    const abort = new AbortController();
    const res = await s.get('/v1/events', { headers: sse, signal: abort.signal });
    expect(res.status).toBe(200);
    const stats = { comments: 0 };
    const seen: SseEvent[] = [];
    const reading = (async () => {
      for await (const e of readSse(res, stats)) {
        seen.push(e);
        if (e.event === 'turn.completed') return;
      }
    })();
    await waitFor(async () => stats.comments >= 1); // a keep-alive (every 1 s here) before any event
    await json(await s.post('/v1/sessions/tail%3A1/messages', { prompt: 'hi' }));
    await reading;
    abort.abort();
    expect(stats.comments).toBeGreaterThanOrEqual(1);
    expect(seen.map((e) => e.event)).toEqual(expect.arrayContaining(['session.created', 'turn.queued', 'turn.started', 'turn.completed']));
    expect(seen.map((e) => Number(e.id))).toEqual(seen.map((_, i) => i + 1));
  });

  it('interrupts a running turn over HTTP; the JSON answer is the turn.failed error', async () => {
    s.fx.mock.enqueue({ text: 'never', delayMs: 5_000 });
    const pending = s.post('/v1/sessions/stop%3A1/messages', { prompt: 'long' });
    await waitFor(async () => (await json(await s.get('/v1/sessions/stop%3A1'))).status === 'running');
    const busy = await fetch(`${s.url}/v1/sessions/stop%3A1`, { method: 'DELETE' });
    expect(busy.status).toBe(409);
    expect((await json(busy)).error.code).toBe('SESSION_BUSY');
    const rejected = await s.post('/v1/sessions/stop%3A1/messages', { prompt: 'me too', onBusy: 'reject' });
    expect(rejected.status).toBe(409);
    expect((await json(rejected)).error.code).toBe('SESSION_BUSY');
    const stopped = await json(await s.post('/v1/sessions/stop%3A1/interrupt', {}));
    expect(stopped.interrupted).toBe(true);
    const res = await pending;
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe('INTERRUPTED');
    const turn = await json(await s.get(`/v1/turns/${stopped.turnId}`));
    expect(turn.status).toBe('interrupted');
    // Once idle: reset closes the session, delete removes the key.
    const reset = await s.post('/v1/sessions/stop%3A1/reset', undefined);
    expect((await json(reset)).status).toBe('closed');
    expect((await fetch(`${s.url}/v1/sessions/stop%3A1`, { method: 'DELETE' })).status).toBe(204);
    expect((await s.get('/v1/sessions/stop%3A1')).status).toBe(404);
  });

  it('answers a failed turn with the status of its code (AGENT_FAILED → 502)', async () => {
    s.fx.mock.enqueue(...Array.from({ length: 12 }, () => ({ fault: { kind: 'status' as const, status: 400, type: 'invalid_request_error', message: 'bad' } })));
    const res = await s.post('/v1/sessions/fail%3A1/messages', { prompt: 'boom' });
    expect(res.status).toBe(502);
    expect((await json(res)).error.code).toBe('AGENT_FAILED');
    s.fx.mock.reset();
  });
});
