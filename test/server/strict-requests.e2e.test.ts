import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startServer, type ServerFixture } from './server-fixture.js';

const KEY = '/v1/sessions/strict%3A1';
const nestedObjects = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const nestedArrays = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/**
 * Hostile bodies and queries against a live session, at the default body limit (1 MiB): each is
 * refused with 400 and the session, its turns and the agent are left as they were. The corpus of
 * hostile.e2e.test.ts runs on a 2 KiB limit, where a body nested thousands deep does not fit.
 */
describe('strict bodies, bounded JSON and strict queries on a live session (real agent)', () => {
  let s: ServerFixture;

  beforeAll(async () => {
    s = await startServer();
    const first = await s.post(`${KEY}/messages`, { prompt: 'hello', options: { metadata: { keep: { me: true } } } });
    expect(first.status).toBe(200);
  });
  afterAll(async () => s.stop());

  const send = (method: string, path: string, body?: string): Promise<Response> =>
    fetch(s.url + path, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body } : {}) });
  const snapshot = async () => {
    const session = await json(await s.get(KEY));
    const turns = await json(await s.get(`${KEY}/turns`));
    return { session: { ...session, lastActiveAt: undefined, expiresAt: undefined }, turns, agentRequests: s.fx.mock.requests.length };
  };

  it('refuses metadata nested 2,000 deep (it was a stack overflow: 500) and 33 deep, and takes 32', async () => {
    const before = await snapshot();
    for (const body of [
      `{"metadata":{"x":${nestedObjects(2_000)}}}`,
      `{"metadata":{"x":${nestedArrays(5_000)}}}`,
      `{"labels":${nestedObjects(2_000)}}`,
      `{"metadata":{"x":${nestedObjects(33)}}}`,
      `{"model":"m","metadata":{"x":${nestedObjects(33)}}}`,
    ]) {
      const res = await send('PATCH', KEY, body);
      expect(res.status, body.slice(0, 40)).toBe(400);
      expect((await json(res)).error.code).toBe('INVALID_INPUT');
    }
    const message = await send('POST', `${KEY}/messages`, `{"prompt":"hi","options":{"metadata":{"x":${nestedObjects(2_000)}}}}`);
    expect(message.status).toBe(400);
    expect(await snapshot()).toEqual(before);

    const ok = await send('PATCH', KEY, `{"metadata":{"x":${nestedObjects(32)}}}`);
    expect(ok.status).toBe(200);
    expect((await json(ok)).metadata.keep).toEqual({ me: true });
  });

  it('refuses any body but none or {} on reset, interrupt and compact, and does nothing', async () => {
    const before = await snapshot();
    const bodies = ['[]', 'null', '42', '"compact"', 'true', '{"force":true}', nestedArrays(5_000), `{"a":${nestedArrays(5_000)}}`, nestedObjects(2_000)];
    const failures: string[] = [];
    for (const op of ['compact', 'interrupt', 'reset']) {
      for (const body of bodies) {
        const res = await send('POST', `${KEY}/${op}`, body);
        const answer = await json(res);
        if (res.status !== 400 || answer.error?.code !== 'INVALID_INPUT') failures.push(`${op} ${body.slice(0, 20)}: ${res.status} ${JSON.stringify(answer).slice(0, 120)}`);
      }
    }
    for (const body of ['[]', 'null', '{"cascade":true}']) {
      const res = await send('DELETE', KEY, body);
      if (res.status !== 400) failures.push(`delete ${body}: ${res.status}`);
    }
    expect(failures).toEqual([]);
    // Not compacted, not reset, not deleted, no agent reached.
    expect(await snapshot()).toEqual(before);

    // What the contract allows still works: `{}`, and no body at all.
    expect((await send('POST', `${KEY}/interrupt`, '{}')).status).toBe(200);
    expect((await send('POST', `${KEY}/interrupt`)).status).toBe(200);
    const reset = await send('POST', `${KEY}/reset`, '{}');
    expect(reset.status).toBe(200);
    expect((await json(reset)).status).toBe('closed');
  });

  it('refuses unknown query parameters, naming them, where a typo would change the meaning', async () => {
    const failures: string[] = [];
    for (const [path, name] of [
      ['/v1/stats?tenant=other', 'tenant'],
      ['/v1/events?after=3', 'after'],
      [`${KEY}/export?format=v2`, 'format'],
      [`${KEY}?generation=1`, 'generation'],
    ] as const) {
      const res = await s.get(path);
      const answer = await json(res);
      if (res.status !== 400 || answer.error.message !== `invalid query: unknown query parameter "${name}"`) failures.push(`${path}: ${res.status} ${JSON.stringify(answer)}`);
    }
    expect(failures).toEqual([]);
    // Without them, the same routes answer.
    expect((await s.get('/v1/stats')).status).toBe(200);
    expect((await s.get(`${KEY}/export`)).status).toBe(200);
  });
});
