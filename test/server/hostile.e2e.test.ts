import { mkdirSync, symlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { collectSse, json, startServer, type ServerFixture } from './server-fixture.js';

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
/** requestTimeoutSec of this file's server: a slow request is cut after it (plus Node's check interval, 250 ms). */
const REQUEST_TIMEOUT_SEC = 1;

interface SlowClient {
  name: string;
  /** Bytes sent at once on connect. */
  start: string;
  /** Bytes sent every 200 ms afterwards, until the server answers or closes (null: send nothing more). */
  drip: string | null;
}

/** What a slow client saw: the server's first bytes (if any) and when the socket closed. */
interface SlowOutcome {
  name: string;
  response: string;
  closedAfterMs: number;
}

/** A bundle as `GET …/export` writes it (no turns, no transcript) whose session has this config. */
function bundleWith(config: Record<string, unknown>, session: Record<string, unknown> = {}): Record<string, unknown> {
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
  return {
    format: 'tether.session',
    version: 1,
    exportedAt: new Date(0).toISOString(),
    session: { key: 'hostile:imported', backend: 'claude', generation: 1, agentSessionId: null, config, labels: {}, metadata: {}, usage, context: { tokens: 0, window: 0, ratio: 0 }, ...session },
    turns: [],
    transcript: { main: [], subpaths: {} },
  };
}

/** `{"a":{"a":…1…}}`, `depth` objects deep, as JSON text. */
const nestedObjects = (depth: number, leaf = '1'): string => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
const nestedArrays = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Opens a raw socket that sends a request too slowly (or never finishes it). */
function slowRequest(port: number, client: SlowClient): { socket: Socket; started: Promise<void>; outcome: Promise<SlowOutcome> } {
  const socket = connect(port, '127.0.0.1');
  const opened = Date.now();
  let response = '';
  let drip: NodeJS.Timeout | undefined;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  socket.on('connect', () => {
    socket.write(client.start, () => markStarted());
    if (client.drip !== null) drip = setInterval(() => socket.writable && socket.write(client.drip!), 200);
  });
  socket.on('data', (chunk) => (response += chunk.toString('latin1')));
  const outcome = new Promise<SlowOutcome>((resolve) => {
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ name: client.name, response, closedAfterMs: Date.now() - opened });
    });
    socket.on('error', () => undefined);
  });
  return { socket, started, outcome };
}

describe('hostile inputs are refused with 4xx and the error shape; nothing changes (real agent)', () => {
  let s: ServerFixture;
  let outside = '';
  let root = '';

  beforeAll(async () => {
    s = await startServer({ bodyLimitBytes: BODY_LIMIT, maxPromptChars: PROMPT_LIMIT, maxHeaders: 100, requestTimeoutSec: REQUEST_TIMEOUT_SEC });
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
    { name: 'an operation that does not exist', path: '/v1/sessions/hostile%3A1/rewind', method: 'POST', json: {}, status: 404, code: 'NOT_FOUND' },
    { name: 'regenerate with a prompt', path: '/v1/sessions/hostile%3A1/regenerate', method: 'POST', json: { prompt: 'x' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'regenerate of an unknown key', path: '/v1/sessions/hostile%3A1/regenerate', method: 'POST', json: {}, status: 404, code: 'NOT_FOUND' },
    { name: 'regenerate, bad async value', path: '/v1/sessions/hostile%3A1/regenerate?async=2', method: 'POST', json: {}, status: 400, code: 'INVALID_INPUT' },
    { name: 'continue with a bad onBusy', path: '/v1/sessions/hostile%3A1/continue', method: 'POST', json: { onBusy: 'wait' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'continue with a prompt', path: '/v1/sessions/hostile%3A1/continue', method: 'POST', json: { prompt: 'go' }, status: 400, code: 'INVALID_INPUT' },
    { name: 'continue of an unknown key', path: '/v1/sessions/hostile%3A1/continue', method: 'POST', json: {}, status: 404, code: 'NOT_FOUND' },
    { name: 'update to bypassPermissions', path: '/v1/sessions/hostile%3A1', method: 'PATCH', json: { permissionMode: 'bypassPermissions' }, status: 403, code: 'FORBIDDEN' },
    { name: 'fork without a new key', path: '/v1/sessions/hostile%3A1/fork', method: 'POST', json: {}, status: 400, code: 'INVALID_INPUT' },
    { name: 'import of a bundle that is not one', path: '/v1/sessions/import', method: 'POST', json: { bundle: { format: 'x' } }, status: 400, code: 'INVALID_INPUT' },
    { name: 'import of a bundle in bypassPermissions mode', path: '/v1/sessions/import', method: 'POST', json: { bundle: bundleWith({ cwd: join(root, 'inside'), permissionMode: 'bypassPermissions' }) }, status: 403, code: 'FORBIDDEN' },
    { name: 'import of a bundle whose cwd is outside the roots', path: '/v1/sessions/import', method: 'POST', json: { bundle: bundleWith({ cwd: outside }) }, status: 403, code: 'FORBIDDEN' },
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

  /** Every hostile key encoding against every route that takes a key. */
  const badKeys: Array<[string, string]> = [
    ['BEL', 'a%07b'], ['LF', 'a%0Ab'], ['CR', 'a%0Db'], ['CRLF header injection', 'a%0D%0ASet-Cookie:%20x'], ['NUL', 'a%00b'],
    ['ESC', 'a%1B%5B31m'], ['DEL', 'a%7Fb'], ['C1 NEL', 'a%C2%85b'], ['line separator', 'a%E2%80%A8b'], ['paragraph separator', 'a%E2%80%A9b'],
    ['bidi override', 'a%E2%80%AEb'], ['zero-width space', 'a%E2%80%8Bb'], ['BOM', '%EF%BB%BFkey'], ['blank', '%20%20%20'], ['tab', 'a%09b'],
    ['257 characters', 'k'.repeat(257)], ['257 emoji', '%F0%9F%99%82'.repeat(257)],
  ];
  const keyRoutes: Array<[string, (k: string) => string, Partial<HostileCase>]> = [
    ['POST messages', (k) => `/v1/sessions/${k}/messages`, { json: { prompt: 'hi' } }],
    ['GET session', (k) => `/v1/sessions/${k}`, { method: 'GET' }],
    ['DELETE session', (k) => `/v1/sessions/${k}`, { method: 'DELETE' }],
    ['GET turns', (k) => `/v1/sessions/${k}/turns`, { method: 'GET' }],
    ['POST reset', (k) => `/v1/sessions/${k}/reset`, { method: 'POST' }],
    ['POST interrupt', (k) => `/v1/sessions/${k}/interrupt`, { method: 'POST' }],
    ['POST regenerate', (k) => `/v1/sessions/${k}/regenerate`, { json: {} }],
    ['POST continue', (k) => `/v1/sessions/${k}/continue`, { json: {} }],
    ['PATCH session', (k) => `/v1/sessions/${k}`, { method: 'PATCH', json: { model: 'm' } }],
    ['POST fork', (k) => `/v1/sessions/${k}/fork`, { json: { newKey: 'hostile:fork' } }],
    ['GET export', (k) => `/v1/sessions/${k}/export`, { method: 'GET' }],
    ['POST compact', (k) => `/v1/sessions/${k}/compact`, { method: 'POST' }],
  ];
  const keyCases = (): HostileCase[] =>
    badKeys.flatMap(([keyName, key]) =>
      keyRoutes.map(([routeName, path, extra]) => ({ name: `${keyName} key, ${routeName}`, path: path(key), status: 400, code: 'INVALID_INPUT', ...extra })),
    );

  /** A wrong value for every field of a message body and its options. */
  const wrongValues: Array<[string, Record<string, unknown>]> = [
    ...[5, true, null, [], {}, ['hi']].map((v): [string, Record<string, unknown>] => [`prompt ${JSON.stringify(v)}`, { prompt: v }]),
    ...[5, 'x', [], null, true].map((v): [string, Record<string, unknown>] => [`options ${JSON.stringify(v)}`, { prompt: 'hi', options: v }]),
    ...[5, 'now', null, ''].map((v): [string, Record<string, unknown>] => [`onBusy ${JSON.stringify(v)}`, { prompt: 'hi', onBusy: v }]),
  ];
  const wrongOptions: Array<[string, Record<string, unknown>]> = [
    ...[5, [], {}, true, '', 'a\u0000b'].map((v): [string, Record<string, unknown>] => [`cwd ${JSON.stringify(v)}`, { cwd: v }]),
    ...[5, '', 'x'.repeat(201), 'a\nb', 'a\r\nX: y', null].map((v): [string, Record<string, unknown>] => [`model ${JSON.stringify(v).slice(0, 20)}`, { model: v }]),
    ...[5, 'root', '', null, ['default']].map((v): [string, Record<string, unknown>] => [`permissionMode ${JSON.stringify(v)}`, { permissionMode: v }]),
    ...[5, [], {}].map((v): [string, Record<string, unknown>] => [`appendSystemPrompt ${JSON.stringify(v)}`, { appendSystemPrompt: v }]),
    ...[0, -1, 1.5, 1001, '3', null, [], 1e308].map((v): [string, Record<string, unknown>] => [`maxTurns ${JSON.stringify(v)}`, { maxTurns: v }]),
    ...(['allowedTools', 'disallowedTools'] as const).flatMap((field) =>
      ['Bash', [5], [''], ['a\u0007'], [null], { Bash: true }].map((v): [string, Record<string, unknown>] => [`${field} ${JSON.stringify(v)}`, { [field]: v }]),
    ),
    ...[5, [], 'user=1', { a: 5 }, { x: 'v'.repeat(257) }, { '': 'v' }, { 'a\nb': 'v' }, { ok: 'line\nbreak' }, { ok: null }].map(
      (v): [string, Record<string, unknown>] => [`labels ${JSON.stringify(v).slice(0, 24)}`, { labels: v }],
    ),
    ...['tenant', 'env', 'signal', 'resume', 'sessionId', 'constructor'].map((field): [string, Record<string, unknown>] => [`unknown option ${field}`, { [field]: 'x' }]),
  ];
  const typeCases = (): HostileCase[] => [
    ...wrongValues.map(([name, json]): HostileCase => ({ name: `wrong ${name}`, json, status: 400, code: 'INVALID_INPUT' })),
    ...wrongOptions.map(([name, options]): HostileCase => ({ name: `wrong option ${name}`, options, status: 400, code: 'INVALID_INPUT' })),
  ];

  /** Nesting, unknown routes and methods. */
  const shapeCases = (): HostileCase[] => [
    { name: 'deeply nested arrays as prompt', body: `{"prompt":${'['.repeat(500)}${']'.repeat(500)}}`, status: 400, code: 'INVALID_INPUT' },
    { name: 'deeply nested objects as options', body: `{"prompt":"hi","options":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`, status: 400, code: 'INVALID_INPUT' },
    { name: 'deeply nested labels', body: `{"prompt":"hi","options":{"labels":${'{"a":'.repeat(150)}"x"${'}'.repeat(150)}}}`, status: 400, code: 'INVALID_INPUT' },
    { name: 'duplicate keys hiding an unknown field', body: '{"prompt":"hi","prompt":"again","x":1}', status: 400, code: 'INVALID_INPUT' },
    { name: 'NaN in JSON', body: '{"prompt":"hi","options":{"maxTurns":NaN}}', status: 400, code: 'INVALID_INPUT' },
    { name: 'trailing garbage', body: '{"prompt":"hi"} x', status: 400, code: 'INVALID_INPUT' },
    { name: 'invalid UTF-8 in JSON', body: '{"prompt":"\xff\xfe"', status: 400, code: 'INVALID_INPUT' },
    ...['PATCH', 'PUT', 'DELETE', 'GET'].map((method): HostileCase => ({ name: `${method} on messages`, method, status: 404, code: 'NOT_FOUND' })),
    ...['/v1/stats', '/v1/events', '/v1/turns/abc'].map((path): HostileCase => ({ name: `POST ${path}`, path, method: 'POST', json: {}, status: 404, code: 'NOT_FOUND' })),
    ...['/v1', '/v1/', '/v1/sessions/a/b/c', '/v1/turns', '/v1/%2e%2e/admin', '/v1/sessions/hostile%3A1/compact', '/v1/sessions/hostile%3A1/rename', '/.env', '/v2/sessions'].map(
      (path): HostileCase => ({ name: `unknown route ${path}`, path, method: 'GET', status: 404, code: 'NOT_FOUND' }),
    ),
  ];

  /**
   * Free-form JSON nested past its bound (a stack overflow in the validator was a 500), bodies
   * where an operation takes none, agent conversation ids that are not ids, and query parameters
   * no route takes (a typo must not silently change what a request means).
   */
  const boundCases = (): HostileCase[] => {
    const key = '/v1/sessions/hostile%3A1';
    const inside = join(root, 'inside');
    const importOf = (session: Record<string, unknown>): string => JSON.stringify({ bundle: bundleWith({ cwd: inside }, session) });
    const transcriptEntry = { type: 'user', uuid: '11111111-1111-4111-8111-111111111111' };
    const withTranscript = (agentSessionId: string): string =>
      JSON.stringify({ bundle: { ...bundleWith({ cwd: inside }, { agentSessionId }), transcript: { main: [transcriptEntry], subpaths: {} } } });
    return [
      { name: 'PATCH metadata nested 33 deep (the bound is 32)', path: key, method: 'PATCH', body: `{"metadata":{"x":${nestedObjects(33)}}}`, status: 400, code: 'INVALID_INPUT' },
      { name: 'PATCH metadata of arrays 900 deep', path: key, method: 'PATCH', body: `{"metadata":{"x":${nestedArrays(900)}}}`, status: 400, code: 'INVALID_INPUT' },
      { name: 'message metadata of arrays 900 deep', body: `{"prompt":"hi","options":{"metadata":{"x":${nestedArrays(900)}}}}`, status: 400, code: 'INVALID_INPUT' },
      { name: 'message metadata nested 33 deep', body: `{"prompt":"hi","options":{"metadata":{"x":${nestedObjects(33)}}}}`, status: 400, code: 'INVALID_INPUT' },
      { name: 'import of a bundle whose metadata is arrays 600 deep', path: '/v1/sessions/import', method: 'POST', body: importOf({}).replace('"metadata":{}', `"metadata":{"x":${nestedArrays(600)}}`), status: 400, code: 'INVALID_INPUT' },
      { name: 'import of a bundle whose metadata is nested 33 deep', path: '/v1/sessions/import', method: 'POST', body: importOf({}).replace('"metadata":{}', `"metadata":{"x":${nestedObjects(33)}}`), status: 400, code: 'INVALID_INPUT' },
      { name: 'import of a bundle with a transcript entry of arrays 600 deep', path: '/v1/sessions/import', method: 'POST', body: withTranscript('22222222-2222-4222-8222-222222222222').replace('"type":"user"', `"type":"user","x":${nestedArrays(600)}`), status: 400, code: 'INVALID_INPUT' },
      { name: 'import with a path as the agent session id', path: '/v1/sessions/import', method: 'POST', body: importOf({ agentSessionId: '../../../../outside/pwn' }), status: 400, code: 'INVALID_INPUT' },
      { name: 'import with an option as the agent session id', path: '/v1/sessions/import', method: 'POST', body: importOf({ agentSessionId: '--dangerously-skip-permissions' }), status: 400, code: 'INVALID_INPUT' },
      { name: 'import with a path as the agent session id, and a transcript', path: '/v1/sessions/import', method: 'POST', body: withTranscript('../../../../outside/pwn'), status: 400, code: 'INVALID_INPUT' },
      { name: 'import with a UUID and more as the agent session id', path: '/v1/sessions/import', method: 'POST', body: importOf({ agentSessionId: '33333333-3333-4333-8333-333333333333 --x' }), status: 400, code: 'INVALID_INPUT' },
      ...['reset', 'interrupt', 'compact'].flatMap((op) =>
        // (Within this server's 2 KiB body limit: a 5,000-deep body is in strict-requests.e2e.test.ts.)
        ['[]', 'null', '42', '"x"', 'true', '{"force":true}', nestedArrays(1_000), `{"a":${nestedArrays(900)}}`].map(
          (body): HostileCase => ({ name: `${op} with the body ${body.slice(0, 16)}`, path: `${key}/${op}`, method: 'POST', body, status: 400, code: 'INVALID_INPUT' }),
        ),
      ),
      ...['[]', 'null', '{"cascade":true}'].map((body): HostileCase => ({ name: `delete with the body ${body}`, path: key, method: 'DELETE', body, status: 400, code: 'INVALID_INPUT' })),
      ...[
        '/v1/stats?tenant=other',
        '/v1/stats?all=1',
        '/v1/events?after=3',
        '/v1/events?key=hostile%3A1',
        `${key}/export?format=v2`,
        `${key}?generation=1`,
        `${key}/turns?limt=5`,
        '/v1/turns/abc?x=1',
        '/v1/sessions?stauts=idle',
      ].map((path): HostileCase => ({ name: `unknown query parameter: GET ${path}`, path, method: 'GET', status: 400, code: 'INVALID_INPUT' })),
      ...(['reset', 'interrupt', 'compact', 'fork'] as const).map(
        (op): HostileCase => ({ name: `unknown query parameter: POST ${op}?force=1`, path: `${key}/${op}?force=1`, method: 'POST', json: op === 'fork' ? { newKey: 'hostile:2' } : {}, status: 400, code: 'INVALID_INPUT' }),
      ),
      { name: 'unknown query parameter: PATCH ?dryRun=1', path: `${key}?dryRun=1`, method: 'PATCH', json: { model: 'm' }, status: 400, code: 'INVALID_INPUT' },
      { name: 'unknown query parameter: DELETE ?force=1', path: `${key}?force=1`, method: 'DELETE', status: 400, code: 'INVALID_INPUT' },
      { name: 'unknown query parameter: import ?replace=1', path: '/v1/sessions/import?replace=1', method: 'POST', body: importOf({}), status: 400, code: 'INVALID_INPUT' },
    ];
  };

  const corpus = (): HostileCase[] => [...cases(), ...keyCases(), ...typeCases(), ...shapeCases(), ...boundCases()];

  it('has a corpus of at least 200 hostile requests', () => {
    expect(corpus().length).toBeGreaterThanOrEqual(200);
  });

  it('refuses every case with its status, code and the error shape, and leaks no stack', async () => {
    const failures: string[] = [];
    for (const c of corpus()) {
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

  describe('slow requests (slowloris) are cut off at requestTimeoutSec', () => {
    const head = (extra: string): string => `POST ${MESSAGES} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}`;
    const slowClients: SlowClient[] = [
      // Headers that trickle in and never end (one more header line every 200 ms).
      ...Array.from({ length: 7 }, (_, i): SlowClient => ({ name: `headers trickle #${i}`, start: `POST ${MESSAGES} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, drip: `X-Slow-${i}: a\r\n` })),
      // A body announced by Content-Length that trickles, then stops short.
      ...Array.from({ length: 7 }, (_, i): SlowClient => ({ name: `Content-Length body trickle #${i}`, start: `${head('Content-Length: 1000\r\n')}\r\n{"prompt":"`, drip: 'x' })),
      // A chunked body whose last chunk never comes.
      ...Array.from({ length: 7 }, (_, i): SlowClient => ({ name: `chunked body never ends #${i}`, start: `${head('Transfer-Encoding: chunked\r\n')}\r\nb\r\n{"prompt":"\r\n`, drip: null })),
    ];

    it(`answers each of ${slowClients.length} slow requests 408 and closes it within the timeout, while serving others`, async () => {
      const port = Number(new URL(s.url).port);
      const slow = slowClients.map((c) => slowRequest(port, c));
      // Meanwhile, with every slow request begun and none of them cut off yet, normal requests
      // are served: they do not wait behind the slow ones.
      await Promise.all(slow.map(({ started }) => started));
      const ok = await s.get('/v1/sessions');
      expect(ok.status).toBe(200);
      expect(await s.get('/healthz')).toMatchObject({ status: 200 });
      expect(slow.filter(({ socket }) => socket.destroyed).length).toBe(0);

      const outcomes = await Promise.all(slow.map(({ outcome }) => outcome));
      const limitMs = REQUEST_TIMEOUT_SEC * 1000 + 250 + 1_000; // the timeout, Node's check interval, slack
      const bad = outcomes.filter((o) => o.closedAfterMs > limitMs || !/^HTTP\/1\.1 408 /.test(o.response));
      expect(bad).toEqual([]);
      for (const o of outcomes) expect(JSON.parse(o.response.slice(o.response.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'INVALID_INPUT', message: 'request timed out' } });
      expect(outcomes.every((o) => o.closedAfterMs >= REQUEST_TIMEOUT_SEC * 1000 - 50)).toBe(true);
    });

    it('bounds requestTimeoutSec (TETHER_REQUEST_TIMEOUT): 1 s – 1 h, default 30 s', () => {
      expect(loadConfig({}, {}).requestTimeoutSec).toBe(30);
      expect(loadConfig({}, { TETHER_REQUEST_TIMEOUT: '3600' }).requestTimeoutSec).toBe(3600);
      expect(() => loadConfig({}, { TETHER_REQUEST_TIMEOUT: '0' })).toThrow(/TETHER_REQUEST_TIMEOUT="0" \(setting requestTimeoutSec\): expected an integer from 1 to 3,600/);
      expect(() => loadConfig({ requestTimeoutSec: 3601 }, {})).toThrow(/requestTimeoutSec/);
    });
  });

  it('names the unknown query parameter, and the bound a nested value passed', async () => {
    const stats = await json(await s.get('/v1/stats?tenant=other'));
    expect(stats.error.message).toBe('invalid query: unknown query parameter "tenant"');
    const deep = await fetch(`${s.url}/v1/sessions/hostile%3A1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: `{"metadata":{"x":${nestedObjects(33)}}}` });
    expect((await json(deep)).error.message).toMatch(/metadata\.x: nested deeper than 32 levels/);
    const body = await s.post('/v1/sessions/hostile%3A1/reset', []);
    expect((await json(body)).error.message).toBe('request body must be a JSON object');
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

  it('never cuts a response that streams longer than requestTimeoutSec (SSE and a JSON wait)', async () => {
    const slowReply = { text: 'took a while', delayMs: REQUEST_TIMEOUT_SEC * 1000 + 1_000 };
    s.fx.mock.enqueue(slowReply, slowReply);
    const sse = await s.post(MESSAGES, { prompt: 'stream slowly' }, { headers: { accept: 'text/event-stream' } });
    const events = await collectSse(sse);
    expect(events.at(-1)).toMatchObject({ event: 'turn.completed', data: { text: 'took a while' } });
    const waited = await s.post(MESSAGES, { prompt: 'wait slowly' });
    expect(waited.status).toBe(200);
    expect((await json(waited)).text).toBe('took a while');
  });
});
