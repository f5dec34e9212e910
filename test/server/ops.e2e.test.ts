import { Validator } from '@seriousme/openapi-schema-validator';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startServer, type ServerFixture } from './server-fixture.js';

describe('health, readiness, metrics and the OpenAPI document (real agent)', () => {
  let s: ServerFixture;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => s.stop());

  it('answers /healthz and /readyz', async () => {
    const health = await s.get('/healthz');
    expect(health.status).toBe(200);
    expect(await json(health)).toEqual({ status: 'ok' });
    const ready = await s.get('/readyz');
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({ status: 'ready', store: { ok: true, kind: 'sqlite' }, agent: { ok: true } });
  });

  it('counts turns, tokens and durations in /metrics, and reads gauges from the store', async () => {
    s.fx.mock.enqueue({ text: 'metered', usage: { inputTokens: 100, outputTokens: 7, cacheReadTokens: 3, cacheWriteTokens: 2 } });
    expect((await s.post('/v1/sessions/metrics%3A1/messages', { prompt: 'count me' })).status).toBe(200);
    const res = await s.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('tether_turns_total{outcome="succeeded"} 1');
    expect(text).toContain('tether_turns_total{outcome="failed"} 0');
    expect(text).toContain('tether_tokens_total{kind="output"} 7');
    expect(text).toContain('tether_tokens_total{kind="cache_read"} 3');
    expect(text).toContain('tether_turn_duration_seconds_count 1');
    expect(text).toContain('tether_sessions{status="idle"} 1');
    expect(text).toMatch(/tether_queue_depth 0/);
    expect(text).toMatch(/tether_turns_running 0/);
    expect(text).toMatch(/tether_live_runners \d+/);
    expect(text).toMatch(/tether_cost_usd_total [\d.e-]+/);
    // Its own registry: nothing of prom-client's default (process_*) metrics leaks in.
    expect(text).not.toContain('process_cpu');
  });

  it('serves a valid OpenAPI 3.1 document with every route, its schemas and the bearer scheme', async () => {
    const res = await s.get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = await json(res);
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');

    // The document and the app agree both ways (fastify's `:param` is OpenAPI's `{param}`).
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    const registered = s.app.registeredRoutes.map((r) => r.replace(/:(\w+)/g, '{$1}'));
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
    // Each route says what it is, and the document says which need a token (auth.ts's rule: /v1 and /mcp;
    // metrics-auth.ts's: /metrics, with a token of its own).
    const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([path, ops]) => Object.values(ops).map((op) => ({ path, op })));
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(operations.length);
    for (const { path, op } of operations) {
      expect(op, path).toMatchObject({ operationId: expect.any(String), summary: expect.any(String), tags: [expect.any(String)] });
      const v1 = path.startsWith('/v1/') || path === '/mcp';
      const metrics = path === '/metrics';
      expect(op.security, path).toEqual(v1 ? [{ bearer: [] }] : metrics ? [{ metricsBearer: [] }] : []);
      expect(Object.keys(op.responses as object).includes('401'), path).toBe(v1 || metrics);
    }
    // And the contract's routes of this issue are all there.
    for (const route of ['post /v1/sessions/{key}/messages', 'get /v1/sessions', 'get /v1/sessions/{key}', 'delete /v1/sessions/{key}', 'get /v1/sessions/{key}/turns', 'post /v1/sessions/{key}/reset', 'post /v1/sessions/{key}/interrupt', 'get /v1/turns/{id}', 'get /v1/turns/{id}/events', 'get /v1/events', 'get /v1/stats', 'get /healthz', 'get /readyz', 'get /metrics', 'get /openapi.json']) {
      expect(documented, route).toContain(route);
    }

    const send = doc.paths['/v1/sessions/{key}/messages'].post;
    expect(send.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SendMessage' });
    expect(send.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TurnCompleted' });
    expect(send.responses['200'].content).toHaveProperty(['text/event-stream']);
    expect(send.responses['202'].headers).toHaveProperty('Location');
    expect(send.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(send.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.metricsBearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const id of ['SendMessage', 'SessionOptions', 'Session', 'Turn', 'TurnCompleted', 'AcceptedTurn', 'Interrupt', 'Error', 'Usage', 'Stats', 'Readiness']) {
      expect(doc.components.schemas, id).toHaveProperty(id);
    }
    // The body schema refuses unknown fields, as the server does.
    expect(doc.components.schemas.SendMessage.additionalProperties).toBe(false);
  });
});

describe('readiness without the agent binary', () => {
  it('answers 503 with the agent not ok, and no path in the body', async () => {
    const missing = '/nonexistent/bin/claude-for-tether';
    const s = await startServer({ claudePath: missing });
    try {
      const res = await s.get('/readyz');
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ status: 'unavailable', store: { ok: true, kind: 'sqlite' }, agent: { ok: false } });
      expect(text).not.toContain(missing);
      expect(text).not.toContain(join(s.fx.dir));
      // A message is refused the same way, before anything is written.
      const sent = await s.post('/v1/sessions/k/messages', { prompt: 'hi' });
      expect(sent.status).toBe(503);
      expect((await json(sent)).error.code).toBe('AGENT_UNAVAILABLE');
      expect((await s.get('/healthz')).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
