import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ErrorCode, TetherError } from '../../src/errors.js';
import { isLoopbackHost, loadTokens, parseTokenPairs } from '../../src/server/auth.js';
import { metricsAccess } from '../../src/server/metrics-auth.js';
import { serve } from '../../src/server/serve.js';
import { json, startServer, type ServerFixture } from './server-fixture.js';

const TOKEN_A = 'tok-aaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'tok-bbbbbbbbbbbbbbbbbbbb';
const WRONG = 'tok-wrong-secret-do-not-log-1234';

describe('tenant isolation with TETHER_TOKENS (real agent)', () => {
  let s: ServerFixture;
  const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  let turnId = '';

  beforeAll(async () => {
    s = await startServer({ tokens: `${TOKEN_A}=alpha,${TOKEN_B}=beta` });
    const res = await s.post('/v1/sessions/user%3A1/messages', { prompt: 'secret of alpha' }, as(TOKEN_A));
    expect(res.status).toBe(200);
    turnId = (await json(res)).turnId;
  });
  afterAll(async () => s.stop());

  it("shows tenant A's session, turn and events to A only; B gets 404 for each", async () => {
    expect((await s.get('/v1/sessions/user%3A1', as(TOKEN_A))).status).toBe(200);
    expect((await s.get(`/v1/turns/${turnId}`, as(TOKEN_A))).status).toBe(200);

    for (const path of ['/v1/sessions/user%3A1', '/v1/sessions/user%3A1/turns', `/v1/turns/${turnId}`, `/v1/turns/${turnId}/events`]) {
      const res = await s.get(path, as(TOKEN_B));
      expect(res.status, path).toBe(404);
      expect((await json(res)).error.code).toBe('NOT_FOUND');
    }
    expect((await s.post('/v1/sessions/user%3A1/reset', {}, as(TOKEN_B))).status).toBe(404);
    expect((await s.post('/v1/sessions/user%3A1/interrupt', {}, as(TOKEN_B))).status).toBe(404);
    expect((await fetch(`${s.url}/v1/sessions/user%3A1`, { method: 'DELETE', ...as(TOKEN_B) })).status).toBe(404);

    const listB = await json(await s.get('/v1/sessions', as(TOKEN_B)));
    expect(listB.sessions).toEqual([]);
    const listA = await json(await s.get('/v1/sessions', as(TOKEN_A)));
    expect(listA.sessions.map((x: { key: string; tenant: string }) => [x.key, x.tenant])).toEqual([['user:1', 'alpha']]);
    expect((await json(await s.get('/v1/stats', as(TOKEN_B)))).sessions.live).toBe(0);

    // The same key under B is B's own conversation.
    const b = await json(await s.post('/v1/sessions/user%3A1/messages', { prompt: 'hello from beta' }, as(TOKEN_B)));
    expect(b.text).toBe('Reply #1: hello from beta');
    expect(b.tenant).toBe('beta');
  });

  it('answers 401 with WWW-Authenticate without a token or with a wrong one, and never logs the token', async () => {
    for (const init of [{}, as(WRONG), { headers: { authorization: WRONG } }, { headers: { authorization: 'Basic dXNlcjpwYXNz' } }]) {
      const res = await s.get('/v1/sessions', init);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await json(res)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    // A POST with a body is refused before the body is read.
    expect((await s.post('/v1/sessions/x/messages', { prompt: 'hi' }, as(WRONG))).status).toBe(401);
    // A percent-encoded /v1 path reaches the same route, and needs the same token.
    expect((await s.get('/%761/sessions')).status).not.toBe(200);

    // Probes need no token.
    expect((await s.get('/healthz')).status).toBe(200);

    const logged = s.logs.join('\n');
    expect(s.logs.length).toBeGreaterThan(0);
    expect(logged).not.toContain(WRONG);
    expect(logged).not.toContain(TOKEN_A);
    expect(logged).not.toContain(TOKEN_B);
  });

  it('closes /metrics (every tenant\'s totals) when there are API tokens and no metrics token; no API token opens it', async () => {
    for (const init of [{}, as(TOKEN_A), as(TOKEN_B)]) {
      const res = await s.get('/metrics', init);
      expect(res.status).toBe(403);
      expect(await json(res)).toEqual({ error: { code: 'FORBIDDEN', message: expect.stringContaining('TETHER_METRICS_TOKEN') } });
    }
    // Decoded by the router to the same route: the same answer.
    expect((await s.get('/%6Detrics', as(TOKEN_A))).status).toBe(403);
    expect((await s.get('/healthz')).status).toBe(200);
  });

  it('redacts an Authorization header even when something logs the headers', async () => {
    s.app.log.info({ headers: { authorization: `Bearer ${WRONG}` } }, 'header dump');
    expect(s.logs.join('\n')).not.toContain(WRONG);
    expect(s.logs.join('\n')).toContain('[redacted]');
  });
});

describe('the metrics token (TETHER_METRICS_TOKEN)', () => {
  const METRICS = 'metrics-secret-cccccccccccc';
  let s: ServerFixture;
  beforeAll(async () => {
    s = await startServer({ tokens: `${TOKEN_A}=alpha`, metricsToken: METRICS });
  });
  afterAll(async () => s.stop());

  it('is what /metrics needs as a bearer token; API tokens and wrong ones get 401, and it opens nothing else', async () => {
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    for (const init of [{}, bearer(TOKEN_A), bearer(WRONG), { headers: { authorization: METRICS } }]) {
      const res = await s.get('/metrics', init);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await json(res)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    const ok = await s.get('/metrics', bearer(METRICS));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('tether_sessions');
    // It is not an API token.
    expect((await s.get('/v1/sessions', bearer(METRICS))).status).toBe(401);
    expect(s.logs.join('\n')).not.toContain(METRICS);
  });

  it('is bounded and validated in config: at least 16 characters, no whitespace, not one of the API tokens', async () => {
    expect(loadConfig({}, { TETHER_METRICS_TOKEN: METRICS }).metricsToken).toBe(METRICS);
    expect(loadConfig({}, {}).metricsToken).toBeUndefined();
    // Named by its variable and setting, and never repeated back: it is a secret.
    expect(() => loadConfig({}, { TETHER_METRICS_TOKEN: 'short' })).toThrow(/TETHER_METRICS_TOKEN=\[hidden\] \(setting metricsToken\): expected a token of 16 to 1,000 characters/);
    expect(() => loadConfig({ metricsToken: 'has a space in the middle' }, {})).toThrow(/metricsToken/);
    expect(() => loadConfig({ metricsToken: 'x'.repeat(1_001) }, {})).toThrow(/metricsToken/);
    expect(() => metricsAccess({ metricsToken: TOKEN_A }, loadTokens({ tokens: `${TOKEN_A}=alpha` }))).toThrow(/also an API token/);
    expect(metricsAccess({}, loadTokens({})).kind).toBe('open');
    expect(metricsAccess({}, loadTokens({ tokens: `${TOKEN_A}=alpha` })).kind).toBe('closed');
    expect(metricsAccess({ metricsToken: METRICS }, loadTokens({})).kind).toBe('token');
  });
});

describe('tokens and binding', () => {
  it('parses token=tenant pairs from the variable and a file with comments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-tokens-'));
    try {
      const file = join(dir, 'tokens');
      writeFileSync(file, `# ops tokens\n${TOKEN_B}=beta   # the beta team\n\nsixteen-chars-xx==pad=gamma,\n`);
      const table = loadTokens({ tokens: `${TOKEN_A}=alpha`, tokensFile: file });
      expect(table.size).toBe(3);
      expect(table.tenantOf(TOKEN_A)).toBe('alpha');
      expect(table.tenantOf(TOKEN_B)).toBe('beta');
      expect(table.tenantOf('sixteen-chars-xx==pad')).toBe('gamma');
      expect(table.tenantOf(TOKEN_A.slice(0, -1))).toBeNull();
      expect(table.tenantOf('')).toBeNull();
      expect(() => loadTokens({ tokensFile: join(dir, 'missing') })).toThrow(/cannot read the tokens file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['short-token=alpha', /shorter than 16/],
    [`${TOKEN_A}`, /token=tenant/],
    [`${TOKEN_A}=`, /token=tenant/],
    [`${TOKEN_A}=bad tenant!`, /tenant/],
    [`${TOKEN_A}=alpha,${TOKEN_A}=beta`, /two different tenants/],
  ])('refuses %s', (tokens, message) => {
    let error: unknown;
    try {
      loadTokens({ tokens });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe(ErrorCode.INVALID_INPUT);
    expect((error as TetherError).message).toMatch(message);
    // The token itself is never part of the message.
    expect((error as TetherError).message).not.toContain(TOKEN_A);
  });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '::ffff:10.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
    expect(parseTokenPairs(`${TOKEN_A}=alpha\n${TOKEN_B}=beta`, 'x')).toHaveLength(2);
  });

  it('refuses to listen on 0.0.0.0 without TETHER_TOKENS, before opening anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-bind-'));
    try {
      const db = join(dir, 'never.db');
      const config = loadConfig({ host: '0.0.0.0', port: 0, db, logLevel: 'silent' }, {});
      const refused = serve({ config, env: {} });
      await expect(refused).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/^refusing to listen on 0\.0\.0\.0 without TETHER_TOKENS/) });
      const { existsSync } = await import('node:fs');
      expect(existsSync(db)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
