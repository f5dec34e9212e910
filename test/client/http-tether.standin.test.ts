import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { connectTether } from '../../src/client/index.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { sessionToJSON, turnToJSON } from '../../src/domain/json.js';
import type { SessionRecord, TurnRecord } from '../../src/domain/types.js';
import { TetherError } from '../../src/errors.js';
import { cut, json, sse, startStandIn, type StandIn } from './stand-in.js';

/**
 * The client against a scripted stand-in: the wire cases a real daemon cannot be made to produce
 * at will. The same client against the real daemon is in http-tether.e2e.test.ts.
 */
const base = { tenant: 'default', key: 'k:1', turnId: 't-1', sessionId: 's-1', at: '2026-01-01T00:00:00.000Z' };
const usage = { inputTokens: 3, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.01 };
const context = { tokens: 3, window: 200_000, ratio: 0.000015 };

/** One turn's events in order; their SSE ids are their index + 1. */
const TURN: TetherEvent[] = [
  { ...base, type: 'turn.queued', seq: 4, position: 0 },
  { ...base, type: 'turn.started', agentSessionId: null, resumed: false, runner: 'cold' },
  { ...base, type: 'text.delta', text: 'Hel' },
  { ...base, type: 'text.delta', text: 'lo' },
  { ...base, type: 'message', role: 'assistant', text: 'Hello' },
  { ...base, type: 'turn.completed', agentSessionId: 'a-1', text: 'Hello', usage, context, durationMs: 12 },
];

const session: SessionRecord = {
  id: 's-1',
  tenant: 'default',
  key: 'k:1',
  backend: 'claude',
  agentSessionId: 'a-1',
  status: 'idle',
  generation: 2,
  config: { cwd: '/work', model: 'sonnet', maxTurns: 3 },
  labels: { team: 'a' },
  metadata: { taskId: 'T-1' },
  turns: 5,
  turnSeq: 5,
  queued: 0,
  usage,
  context,
  createdAt: Date.parse('2026-01-01T00:00:00.000Z'),
  lastActiveAt: Date.parse('2026-01-01T00:01:00.000Z'),
  expiresAt: null,
  closedAt: null,
  closeReason: null,
  lease: null,
  leaseEpoch: 0,
};

const turn: TurnRecord = {
  id: 't-1',
  sessionId: 's-1',
  tenant: 'default',
  key: 'k:1',
  seq: 4,
  prompt: 'hi',
  status: 'succeeded',
  owner: '',
  epoch: null,
  text: 'Hello',
  error: null,
  usage,
  context,
  createdAt: 1_000,
  startedAt: 2_000,
  endedAt: 3_500,
  regenerates: null,
  interruptRequested: false,
};

async function collect(handle: AsyncIterable<TetherEvent>): Promise<TetherEvent[]> {
  const out: TetherEvent[] = [];
  for await (const e of handle) out.push(e);
  return out;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connectTether against a scripted stand-in', () => {
  let standIn: StandIn;
  let tether: Tether;
  const retry = { attempts: 3, baseMs: 5, maxMs: 20 };

  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(async () => {
    await standIn?.close();
  });
  beforeEach(async () => {
    await tether?.close({ graceMs: 0 });
    standIn.seen.length = 0;
    tether = connectTether({ url: `${standIn.url}/`, token: 'secret-token-0123456789', retry });
  });

  it('send POSTs the contract body with the token, streams the events and settles the handle', async () => {
    standIn.handler = (req, res) => {
      const s = sse(res);
      s.comment('keep-alive');
      TURN.forEach((e, i) => s.send(e.type, e, i + 1));
      res.end();
    };
    const handle = tether.send('k:1', 'hi', { model: 'sonnet', labels: { team: 'a' }, onBusy: 'reject', tenant: 'ignored' });
    expect(await collect(handle)).toEqual(TURN);
    expect(await handle.accepted).toEqual({ turnId: 't-1', sessionId: 's-1', seq: 4 });
    expect(await handle.result).toEqual(TURN.at(-1));

    const [req] = standIn.seen;
    expect(req).toMatchObject({
      method: 'POST',
      url: '/v1/sessions/k%3A1/messages',
      body: { prompt: 'hi', options: { model: 'sonnet', labels: { team: 'a' } }, onBusy: 'reject' },
      headers: { accept: 'text/event-stream', authorization: 'Bearer secret-token-0123456789', 'content-type': 'application/json' },
    });
  });

  it('encodes the key as one path segment', async () => {
    standIn.handler = (_req, res) => json(res, 404, { error: { code: 'NOT_FOUND', message: 'nope' } });
    expect(await tether.get('team:a->b/c d?x#y%')).toBeNull();
    expect(standIn.seen[0]?.url).toBe(`/v1/sessions/${encodeURIComponent('team:a->b/c d?x#y%')}`);
  });

  it('a stream cut mid-turn resumes with Last-Event-ID and repeats no event', async () => {
    const lastEventIds: Array<string | undefined> = [];
    standIn.handler = (req, res) => {
      if (req.method === 'POST') {
        const s = sse(res);
        TURN.slice(0, 3).forEach((e, i) => s.send(e.type, e, i + 1));
        cut(res); // after the first delta
        return;
      }
      expect(req.url).toBe('/v1/turns/t-1/events');
      const last = req.headers['last-event-id'];
      lastEventIds.push(typeof last === 'string' ? last : undefined);
      const s = sse(res);
      // This "server" replays one event too many each time, and the first resume is cut again.
      const from = Math.max(0, Number(last) - 1);
      const upTo = lastEventIds.length === 1 ? 4 : TURN.length;
      TURN.slice(from, upTo).forEach((e, i) => s.send(e.type, e, from + i + 1));
      if (upTo < TURN.length) cut(res);
      else res.end();
    };
    const handle = tether.send('k:1', 'hi');
    expect(await collect(handle)).toEqual(TURN);
    expect((await handle.result).text).toBe('Hello');
    expect(lastEventIds).toEqual(['3', '4']);
  });

  it('an outcome rebuilt from the journal (id 0) ends a resumed stream', async () => {
    const completed = TURN.at(-1);
    standIn.handler = (req, res) => {
      const s = sse(res);
      if (req.method === 'POST') {
        s.send('turn.queued', TURN[0], 1);
        cut(res);
        return;
      }
      s.send('turn.completed', completed, 0);
      res.end();
    };
    const handle = tether.send('k:1', 'hi');
    expect((await collect(handle)).map((e) => e.type)).toEqual(['turn.queued', 'turn.completed']);
    expect(await handle.result).toEqual(completed);
  });

  it('gives up with AGENT_UNAVAILABLE after the reconnect attempts, and names the turn', async () => {
    standIn.handler = (req, res) => {
      if (req.method === 'POST') {
        const s = sse(res);
        TURN.slice(0, 2).forEach((e, i) => s.send(e.type, e, i + 1));
        cut(res);
        return;
      }
      json(res, 503, { error: { code: 'AGENT_UNAVAILABLE', message: 'shutting down' } });
    };
    const handle = tether.send('k:1', 'hi');
    await expect(handle.result).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringMatching(/lost the event stream of turn t-1 .* after 3 reconnect attempts/) });
    expect(standIn.seen.filter((r) => r.method === 'GET')).toHaveLength(3);
    expect(await handle.accepted).toMatchObject({ turnId: 't-1' });
  });

  it('a stream cut before turn.queued fails: the turn cannot be found again', async () => {
    standIn.handler = (_req, res) => {
      sse(res);
      cut(res);
    };
    const handle = tether.send('k:1', 'hi');
    await expect(handle.accepted).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('before it acknowledged the message') });
  });

  it('a refusal is the error JSON as a TetherError, on accepted and result, with no events', async () => {
    standIn.handler = (_req, res) => json(res, 409, { error: { code: 'SESSION_BUSY', message: 'key "k:1" is busy' } });
    const handle = tether.send('k:1', 'hi', { onBusy: 'reject' });
    await expect(handle.accepted).rejects.toMatchObject({ name: 'TetherError', code: 'SESSION_BUSY', message: 'key "k:1" is busy' });
    await expect(handle.result).rejects.toBeInstanceOf(TetherError);
    expect(await collect(handle)).toEqual([]);
  });

  it('turn.failed rejects result with its code and message', async () => {
    standIn.handler = (_req, res) => {
      const s = sse(res);
      s.send('turn.queued', TURN[0], 1);
      s.send('turn.failed', { ...base, type: 'turn.failed', error: { code: 'AGENT_FAILED', message: 'the API said 500' } }, 2);
      res.end();
    };
    const handle = tether.send('k:1', 'hi');
    await expect(handle.result).rejects.toMatchObject({ code: 'AGENT_FAILED', message: 'the API said 500' });
  });

  it('interrupt waits for the turn to start, then POSTs the key\'s interrupt once', async () => {
    let start: () => void = () => undefined;
    let finish: () => void = () => undefined;
    standIn.handler = (req, res) => {
      if (req.url.endsWith('/interrupt')) {
        json(res, 200, { interrupted: true, turnId: 't-1' });
        finish();
        return;
      }
      const s = sse(res);
      s.send('turn.queued', TURN[0], 1);
      // Started only when the test says: an interrupt before this must not stop the key's *other* turn.
      start = () => s.send('turn.started', TURN[1], 2);
      finish = () => {
        s.send('turn.failed', { ...base, type: 'turn.failed', error: { code: 'INTERRUPTED', message: 'interrupted' } }, 3);
        res.end();
      };
    };
    const controller = new AbortController();
    const handle = tether.send('k:1', 'hi', { signal: controller.signal });
    await handle.accepted;
    controller.abort();
    handle.interrupt();
    await new Promise((r) => setTimeout(r, 50));
    expect(standIn.seen.map((r) => r.url)).toEqual(['/v1/sessions/k%3A1/messages']);
    start();
    await expect(handle.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(standIn.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /v1/sessions/k%3A1/messages', 'POST /v1/sessions/k%3A1/interrupt']);
  });

  it('refuses env (INVALID_INPUT) and gc without a request', async () => {
    const handle = tether.send('k:1', 'hi', { env: { A: '1' } });
    await expect(handle.result).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('env cannot be set over HTTP') });
    await expect(tether.gc()).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('gc runs inside the daemon') });
    await expect(tether.get('bad\u0007key')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(standIn.seen).toEqual([]);
  });

  it('maps error answers without error JSON by status, and unknown codes too', async () => {
    standIn.handler = (req, res) => {
      if (req.url.startsWith('/v1/stats')) {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>Bad Gateway</html>');
      } else json(res, 429, { error: { code: 'SOMETHING_NEW', message: 'slow down' } });
    };
    await expect(tether.stats()).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringContaining('502') });
    await expect(tether.reset('k:1')).rejects.toMatchObject({ code: 'QUEUE_FULL', message: 'slow down' });
  });

  it('converts Session and Turn JSON back to records, with the documented defaults', async () => {
    standIn.handler = (req, res) => {
      if (req.url === '/v1/turns/t-1') json(res, 200, turnToJSON(turn));
      else if (req.url.startsWith('/v1/sessions/k%3A1/turns')) json(res, 200, { turns: [turnToJSON(turn)] });
      else json(res, 200, sessionToJSON(session));
    };
    // turnSeq is not published: it falls back to `turns` (equal here by construction).
    expect(await tether.get('k:1')).toEqual(session);
    expect(await tether.getTurn('t-1')).toEqual(turn);
    expect(await tether.turns('k:1', { limit: 50_000 })).toEqual([turn]);
    expect(standIn.seen.at(-1)?.url).toBe('/v1/sessions/k%3A1/turns?limit=10000');
    expect(await tether.peek('k:1')).toEqual({ exists: true, busy: false, sessionId: 's-1', agentSessionId: 'a-1', queued: 0 });
  });

  it('an answer that breaks the contract is INTERNAL, naming the field', async () => {
    standIn.handler = (_req, res) => json(res, 200, { ...sessionToJSON(session), createdAt: 42 });
    await expect(tether.get('k:1')).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('createdAt') });
  });

  it('list pages through the daemon\'s cap and repeats label filters', async () => {
    const many = Array.from({ length: 2500 }, (_, i) => sessionToJSON({ ...session, id: `s-${i}`, key: `k:${i}` }));
    standIn.handler = (req, res) => {
      const q = new URL(req.url, 'http://x').searchParams;
      const offset = Number(q.get('offset') ?? 0);
      const limit = Number(q.get('limit') ?? 100);
      json(res, 200, { sessions: many.slice(offset, offset + limit) });
    };
    const all = await tether.list({ status: 'idle', labels: { team: 'a', env: 'x=y' } });
    expect(all.map((s) => s.id)).toEqual(many.map((s) => s.id));
    expect(standIn.seen.map((r) => r.url)).toEqual([
      '/v1/sessions?status=idle&label=team%3Da&label=env%3Dx%3Dy&limit=1000&offset=0',
      '/v1/sessions?status=idle&label=team%3Da&label=env%3Dx%3Dy&limit=1000&offset=1000',
      '/v1/sessions?status=idle&label=team%3Da&label=env%3Dx%3Dy&limit=1000&offset=2000',
    ]);
    standIn.seen.length = 0;
    expect(await tether.list({ limit: 1200, offset: 5 })).toHaveLength(1200);
    expect(standIn.seen.map((r) => r.url)).toEqual(['/v1/sessions?limit=1000&offset=5', '/v1/sessions?limit=200&offset=1005']);
  });

  it('readiness reads /readyz, 503 included', async () => {
    standIn.handler = (_req, res) => json(res, 503, { status: 'unavailable', store: { ok: true, kind: 'sqlite' }, agent: { ok: false, error: 'no binary' } });
    expect(await tether.readiness()).toEqual({ ready: false, store: { ok: true, kind: 'sqlite' }, agent: { ok: false, error: 'no binary' } });
    expect(standIn.seen[0]?.url).toBe('/readyz');
  });

  it('on() opens /v1/events with the first listener and closes it with the last', async () => {
    const closed: Promise<void>[] = [];
    const created = { ...base, type: 'session.created' as const, generation: 1 };
    standIn.handler = (_req, res) => {
      const s = sse(res);
      closed.push(new Promise((r) => res.on('close', () => r())));
      setTimeout(() => {
        s.send('session.created', created, 1);
        s.send('text.delta', TURN[2], 2);
      }, 20);
    };
    const all: TetherEvent[] = [];
    const created1: TetherEvent[] = [];
    expect(standIn.seen).toHaveLength(0);
    const offAll = tether.on('*', (e) => all.push(e));
    const offCreated = tether.on('session.created', (e) => {
      created1.push(e);
      throw new Error('a broken listener does not stop the others');
    });
    await expect.poll(() => all.length).toBe(2);
    expect(created1).toEqual([created]);
    expect(standIn.seen.map((r) => r.url)).toEqual(['/v1/events']);
    offAll();
    offCreated();
    offCreated();
    await closed[0];
  });

  it('close() ends an open turn stream: its handle fails, the turn is left to the daemon', async () => {
    standIn.handler = (_req, res) => {
      sse(res).send('turn.queued', TURN[0], 1);
    };
    const handle = tether.send('k:1', 'hi');
    await handle.accepted;
    await tether.close({ graceMs: 0 });
    await expect(handle.result).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('closed before turn t-1 ended') });
    await expect(tether.stats()).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: 'this Tether client is closed' });
  });

  it('an unreachable daemon is DAEMON_UNREACHABLE naming the URL and the cause', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const client = connectTether({ url });
    await expect(client.list()).rejects.toMatchObject({ code: 'DAEMON_UNREACHABLE', message: expect.stringMatching(new RegExp(`^cannot reach the Tether daemon at ${url}: .*ECONNREFUSED`)) });
    const handle = client.send('k', 'hi');
    await expect(handle.accepted).rejects.toMatchObject({ code: 'DAEMON_UNREACHABLE' });
    await client.close();
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => connectTether({ url: 'localhost:7420' })).toThrow(/must start with http/);
    expect(() => connectTether({ url: 'not a url' })).toThrow(/is not a URL/);
  });
});
