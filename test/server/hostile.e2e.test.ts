import { mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startServer, type ServerFixture } from './server-fixture.js';

interface HostileCase {
  name: string;
  status: number;
  code: string;
  /** Path (default: a valid key's messages route), method, headers and raw body. */
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A JSON body, stringified. */
  json?: unknown;
  /** A message body's options (prompt "hi"). */
  options?: Record<string, unknown>;
}

const MESSAGES = '/v1/sessions/hostile%3A1/messages';
const BODY_LIMIT = 2_048;
const PROMPT_LIMIT = 1_000;
const manyHeaders = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h-${i}`, 'v']));

describe('hostile inputs are refused with 4xx and the error shape; nothing changes (real agent)', () => {
  let s: ServerFixture;
  let outside = '';
  let root = '';

  beforeAll(async () => {
    s = await startServer({ bodyLimitBytes: BODY_LIMIT, maxPromptChars: PROMPT_LIMIT, maxHeaders: 100 });
    root = s.fx.dir;
    outside = tmpdir();
    mkdirSync(join(root, 'inside'), { recursive: true });
    symlinkSync(outside, join(root, 'inside', 'escape'));
  });
  afterAll(async () => s.stop());

  const cases = (): HostileCase[] => [
    { name: 'malformed JSON', body: '{"prompt": "hi"', status: 400, code: 'INVALID_INPUT' },
    { name: 'JSON array body', body: '[{"prompt":"hi"}]', status: 400, code: 'INVALID_INPUT' },
    { name: 'JSON string body', body: '"hi"', status: 400, code: 'INVALID_INPUT' },
    { name: 'JSON null body', body: 'null', status: 400, code: 'INVALID_INPUT' },
    { name: 'empty body', body: '', status: 400, code: 'INVALID_INPUT' },
    { name: 'prototype pollution', body: '{"prompt":"hi","__proto__":{"polluted":true}}', status: 400, code: 'INVALID_INPUT' },
    { name: 'oversized body', json: { prompt: 'x'.repeat(BODY_LIMIT * 2) }, status: 413, code: 'INVALID_INPUT' },
    { name: 'prompt over the limit', json: { prompt: 'x'.repeat(PROMPT_LIMIT + 1) }, status: 400, code: 'INVALID_INPUT' },
    { name: 'missing prompt', json: {}, status: 400, code: 'INVALID_INPUT' },
    { name: 'empty prompt', json: { prompt: '' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown field', json: { prompt: 'hi', stream: true }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown option (env is the operator’s)', options: { env: { ANTHROPIC_BASE_URL: 'http://evil' } }, status: 400, code: 'INVALID_INPUT' },
    { name: 'prompt of the wrong type', json: { prompt: 5 }, status: 400, code: 'INVALID_INPUT' },
    { name: 'maxTurns of the wrong type', options: { maxTurns: 'x' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown onBusy', json: { prompt: 'hi', onBusy: 'later' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown permission mode', options: { permissionMode: 'yolo' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'bad label name', options: { labels: { 'bad label!': 'x' } }, status: 400, code: 'INVALID_INPUT' },
    { name: 'control character in cwd', options: { cwd: `${root}/\u0007` }, status: 400, code: 'INVALID_INPUT' },
    { name: 'BEL in the key (%07)', path: '/v1/sessions/a%07b/messages', json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'LF in the key (%0A)', path: '/v1/sessions/a%0AX-Injected:%20yes/messages', json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'NUL in the key (%00)', path: '/v1/sessions/a%00b/messages', json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'bidi override in the key', path: '/v1/sessions/user%3A%E2%80%AEevil/messages', json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: '257-character key', path: `/v1/sessions/${'k'.repeat(257)}/messages`, json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'key segment longer than any key can encode to', path: `/v1/sessions/${'k'.repeat(4000)}/messages`, json: { prompt: 'hi' }, status: 414, code: 'INVALID_INPUT' },
    { name: 'malformed percent-encoding', path: '/v1/sessions/%E0%A4%A/messages', json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'cwd escaping the root with ..', options: { cwd: `${root}/inside/../../..` }, status: 403, code: 'FORBIDDEN' },
    { name: 'symlink inside the root pointing outside', options: { cwd: join(root, 'inside', 'escape') }, status: 403, code: 'FORBIDDEN' },
    { name: 'nonexistent cwd inside the root', options: { cwd: join(root, 'nope') }, status: 400, code: 'INVALID_INPUT' },
    { name: 'nonexistent cwd outside the root (no probing)', options: { cwd: '/nonexistent-dir-tether' }, status: 403, code: 'FORBIDDEN' },
    { name: 'bypassPermissions not allowed', options: { permissionMode: 'bypassPermissions' }, status: 403, code: 'FORBIDDEN' },
    { name: 'unknown query parameter', path: `${MESSAGES}?stream=1`, json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'bad async value', path: `${MESSAGES}?async=maybe`, json: { prompt: 'hi' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown route', path: '/v1/nothing', method: 'GET', status: 404, code: 'NOT_FOUND' },
    { name: 'unknown route outside /v1', path: '/admin', method: 'GET', status: 404, code: 'NOT_FOUND' },
    { name: 'wrong method', path: '/v1/sessions/hostile%3A1', method: 'PUT', json: { prompt: 'hi' }, status: 404, code: 'NOT_FOUND' },
    { name: 'routes of a later issue are absent', path: '/v1/sessions/hostile%3A1/fork', method: 'POST', json: {}, status: 404, code: 'NOT_FOUND' },
    { name: 'text/plain body', headers: { 'content-type': 'text/plain' }, body: '{"prompt":"hi"}', status: 415, code: 'INVALID_INPUT' },
    { name: 'form body', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'prompt=hi', status: 415, code: 'INVALID_INPUT' },
    { name: 'huge number of headers', headers: manyHeaders, json: { prompt: 'hi' }, status: 431, code: 'INVALID_INPUT' },
    { name: 'headers larger than node accepts', headers: { 'x-big': 'y'.repeat(20_000) }, json: { prompt: 'hi' }, status: 431, code: 'INVALID_INPUT' },
    { name: 'bad label filter', path: '/v1/sessions?label=novalue', method: 'GET', status: 400, code: 'INVALID_INPUT' },
    { name: 'bad list limit', path: '/v1/sessions?limit=0', method: 'GET', status: 400, code: 'INVALID_INPUT' },
    { name: 'bad status filter', path: '/v1/sessions?status=zombie', method: 'GET', status: 400, code: 'INVALID_INPUT' },
    { name: 'bad Last-Event-ID', path: '/v1/turns/abc/events', method: 'GET', headers: { 'last-event-id': '-1' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'unknown turn', path: '/v1/turns/00000000-0000-0000-0000-000000000000', method: 'GET', status: 404, code: 'NOT_FOUND' },
    { name: 'very long turn id', path: `/v1/turns/${'a'.repeat(3000)}`, method: 'GET', status: 404, code: 'NOT_FOUND' },
    { name: 'reset of an unknown key', path: '/v1/sessions/hostile%3A1/reset', method: 'POST', status: 404, code: 'NOT_FOUND' },
    { name: 'delete of an unknown key', path: '/v1/sessions/hostile%3A1', method: 'DELETE', status: 404, code: 'NOT_FOUND' },
  ];

  it('has a corpus of at least 25 cases', () => {
    expect(cases().length).toBeGreaterThanOrEqual(25);
  });

  it('refuses every case with its status, code and the error shape, and leaks no stack', async () => {
    const failures: string[] = [];
    for (const c of cases()) {
      const hasBody = c.body !== undefined || c.json !== undefined || c.options !== undefined;
      const body = c.body ?? (c.json !== undefined ? JSON.stringify(c.json) : c.options !== undefined ? JSON.stringify({ prompt: 'hi', options: c.options }) : undefined);
      const method = c.method ?? 'POST';
      const res = await fetch(s.url + (c.path ?? MESSAGES), {
        method,
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...c.headers },
        ...(body !== undefined ? { body } : {}),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        // reported below
      }
      const shapeOk =
        json !== null &&
        typeof json === 'object' &&
        Object.keys(json).join() === 'error' &&
        Object.keys((json as { error: object }).error).sort().join() === 'code,message' &&
        (json as { error: { code: string } }).error.code === c.code;
      if (res.status !== c.status || !shapeOk || /at .*\.(ts|js):\d+/.test(text)) failures.push(`${c.name}: ${res.status} ${text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('has changed nothing, reached no agent, and still serves a normal turn', async () => {
    expect(await json(await s.get('/v1/sessions'))).toEqual({ sessions: [] });
    expect(s.fx.mock.requests).toHaveLength(0);
    const res = await s.post(MESSAGES, { prompt: 'still there?', options: { cwd: join(root, 'inside') } });
    expect(res.status).toBe(200);
    expect((await json(res)).text).toBe('Reply #1: still there?');
    // The real path was checked and is what the session got.
    expect((await json(await s.get('/v1/sessions/hostile%3A1'))).config.cwd).toBe(join(root, 'inside'));
  });
});
