import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { connectTether } from '../../src/client/index.js';
import { isRunning } from '../helpers/processes.js';
import { json, startServer, type ServerFixture } from './server-fixture.js';

const TOKEN_A = 'tok-aaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'tok-bbbbbbbbbbbbbbbbbbbb';

/** `POST /v1/sessions/{key}/wake|sleep` on the daemon (real agent), raw and through connectTether. */
describe('wake and sleep over HTTP (real agent)', () => {
  let s: ServerFixture;
  let client: Tether;
  const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    s = await startServer({ tokens: `${TOKEN_A}=alpha,${TOKEN_B}=beta` });
    client = connectTether({ url: s.url, token: TOKEN_A });
    const res = await s.post('/v1/sessions/user%3A1/messages', { prompt: 'one' }, as(TOKEN_A));
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await client?.close({ graceMs: 0 });
    await s?.stop();
  });

  it("sleeps and wakes the caller's session; the next turn runs warm in the woken process", async () => {
    // Its first turn left it warm.
    const awake = await s.post('/v1/sessions/user%3A1/wake', {}, as(TOKEN_A));
    expect(awake.status).toBe(200);
    const first = await json(awake);
    expect(first).toEqual({ status: 'awake', pid: expect.any(Number) });
    const { pid } = first;

    const slept = await s.post('/v1/sessions/user%3A1/sleep', {}, as(TOKEN_A));
    expect(slept.status).toBe(200);
    expect(await json(slept)).toEqual({ slept: true });
    expect(isRunning(pid)).toBe(false);
    expect(await json(await s.post('/v1/sessions/user%3A1/sleep', {}, as(TOKEN_A)))).toEqual({ slept: false });

    const woken = await s.post('/v1/sessions/user%3A1/wake', {}, as(TOKEN_A));
    const body = await json(woken);
    expect(body).toEqual({ status: 'woken', pid: expect.any(Number) });
    expect(isRunning(body.pid)).toBe(true);

    const turn = client.send('user:1', 'two');
    const started = [];
    for await (const e of turn) if (e.type === 'turn.started') started.push(e.runner);
    expect((await turn.result).text).toBe('Reply #2: two');
    expect(started).toEqual(['warm']);
  }, 60_000);

  it('goes through connectTether as through the library: the same results and errors', async () => {
    expect(await client.wake('user:1')).toEqual({ status: 'awake', pid: expect.any(Number) });
    expect(await client.sleep('user:1')).toEqual({ slept: true });
    expect(await client.sleep('user:1')).toEqual({ slept: false });
    await expect(client.wake('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.sleep('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  }, 60_000);

  it("answers 404 for an unknown key and for another tenant's, 400 for a body with fields, 401 without a token", async () => {
    for (const op of ['wake', 'sleep']) {
      const unknown = await s.post(`/v1/sessions/nobody/${op}`, {}, as(TOKEN_A));
      expect(unknown.status).toBe(404);
      expect((await json(unknown)).error.code).toBe('NOT_FOUND');
      expect((await s.post(`/v1/sessions/user%3A1/${op}`, {}, as(TOKEN_B))).status).toBe(404);
      expect((await s.post(`/v1/sessions/user%3A1/${op}`, { force: true }, as(TOKEN_A))).status).toBe(400);
      expect((await s.post(`/v1/sessions/user%3A1/${op}`, {})).status).toBe(401);
    }
  });

  it('documents both routes in /openapi.json with their answers', async () => {
    const doc = await json(await s.get('/openapi.json'));
    const wake = doc.paths['/v1/sessions/{key}/wake'].post;
    const sleep = doc.paths['/v1/sessions/{key}/sleep'].post;
    expect(wake).toMatchObject({ operationId: 'wakeSession', security: [{ bearer: [] }] });
    expect(sleep).toMatchObject({ operationId: 'sleepSession', security: [{ bearer: [] }] });
    expect(wake.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Wake' });
    expect(sleep.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Sleep' });
    expect(Object.keys(wake.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404', '429', '502', '503']));
    expect(doc.components.schemas.Wake.properties.status.enum).toEqual(['woken', 'awake', 'busy', 'new', 'cold']);
  });
});
