import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, readSse, startServer, type ServerFixture, type SseEvent } from './server-fixture.js';

/** Reads events off an SSE stream up to (and including) the first of `type`, leaving the stream open. */
async function until(stream: AsyncGenerator<SseEvent>, type: string): Promise<SseEvent[]> {
  const seen: SseEvent[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done) throw new Error(`the stream ended before ${type}: ${seen.map((e) => e.event).join(', ')}`);
    seen.push(next.value);
    if (next.value.event === type) return seen;
  }
}

const ALPHA = 'tok-alpha-aaaaaaaaaaaaaaaa';
const BETA = 'tok-beta-bbbbbbbbbbbbbbbbbb';

/** Approvals over HTTP: the real daemon, the real agent asking, two tenants. */
describe('HTTP approvals (real agent)', () => {
  let s: ServerFixture;
  beforeEach(async () => {
    s = await startServer({ tokens: `${ALPHA}=alpha,${BETA}=beta` });
  });
  afterEach(async () => s.stop());

  const as = (token: string, extra: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${token}`, ...extra } });

  it('streams approval.requested, lists and shows it, takes one decision, and the turn goes on', async () => {
    const file = join(s.fx.cwd, 'http.txt');
    s.fx.mock.enqueue({ toolUse: { name: 'Write', input: { file_path: file, content: 'over http' }, id: 'toolu_http' } }, { text: 'Written.' });
    const tail = await s.get('/v1/events', as(ALPHA, { accept: 'text/event-stream' }));
    const tailEvents = readSse(tail);
    const response = await s.post('/v1/sessions/web%3A1/messages', { prompt: 'write it', options: { approvals: 'ask' } }, as(ALPHA, { accept: 'text/event-stream' }));
    expect(response.status).toBe(200);
    const stream = readSse(response);
    const approval = (await until(stream, 'approval.requested')).at(-1)!.data;
    expect(approval).toMatchObject({ type: 'approval.requested', key: 'web:1', tenant: 'alpha', tool: 'Write', status: 'pending', toolUseId: 'toolu_http' });

    // Where a person finds it: the turn, the list, the event tail.
    const turn = await json(await s.get(`/v1/turns/${approval.turnId}`, as(ALPHA)));
    expect(turn).toMatchObject({ status: 'running', approvals: [{ id: approval.id, status: 'pending' }] });
    const listed = await json(await s.get('/v1/approvals?status=pending&key=web%3A1', as(ALPHA)));
    expect(listed.approvals.map((a: { id: string }) => a.id)).toEqual([approval.id]);
    expect((await until(tailEvents, 'approval.requested')).at(-1)!.data.id).toBe(approval.id);

    // Another tenant sees nothing and decides nothing; bad input changes nothing.
    expect((await json(await s.get('/v1/approvals', as(BETA)))).approvals).toEqual([]);
    const foreign = await s.post(`/v1/approvals/${approval.id}`, { decision: 'allow' }, as(BETA));
    expect([foreign.status, (await json(foreign)).error.code]).toEqual([404, 'NOT_FOUND']);
    for (const [body, status] of [
      [{ decision: 'maybe' }, 400],
      [{ decision: 'allow', extra: 1 }, 400],
      [{ decision: 'deny', remember: 'session' }, 400],
      [{}, 400],
    ] as const) {
      const bad = await s.post(`/v1/approvals/${approval.id}`, body, as(ALPHA));
      expect([bad.status, (await json(bad)).error.code]).toEqual([status, 'INVALID_INPUT']);
    }
    const unknown = await s.post('/v1/approvals/no-such-approval', { decision: 'allow' }, as(ALPHA));
    expect(unknown.status).toBe(404);
    expect((await json(await s.get(`/v1/approvals/${approval.id}`, as(ALPHA)))).status).toBe('pending');
    expect(existsSync(file)).toBe(false);

    const decided = await s.post(`/v1/approvals/${approval.id}`, { decision: 'allow', message: 'go ahead' }, as(ALPHA));
    expect(decided.status).toBe(200);
    expect(await json(decided)).toMatchObject({ id: approval.id, status: 'allowed', decidedBy: 'person', message: 'go ahead' });
    const again = await s.post(`/v1/approvals/${approval.id}`, { decision: 'deny' }, as(ALPHA));
    expect([again.status, (await json(again)).error.code]).toEqual([409, 'ALREADY_DECIDED']);

    const rest = await until(stream, 'turn.completed');
    expect(rest.find((e) => e.event === 'approval.decided')?.data).toMatchObject({ id: approval.id, status: 'allowed' });
    expect(rest.at(-1)!.data.text).toBe('Written.');
    expect(existsSync(file)).toBe(true);
    const ended = await json(await s.get(`/v1/turns/${approval.turnId}`, as(ALPHA)));
    expect(ended.status).toBe('succeeded');
    expect(ended.approvals).toBeUndefined();
    await tailEvents.return(undefined);
    await tail.body?.cancel().catch(() => undefined);
  });
});
