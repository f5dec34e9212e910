import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TetherError } from '../../src/errors.js';
import { toHttpError } from '../../src/server/errors.js';
import { createLimits } from '../../src/server/limits.js';
import { isInside } from '../../src/lib/paths.js';
import { acceptsEventStream } from '../../src/server/routes/messages.js';
import { sseFrame } from '../../src/server/sse.js';

describe('SSE frames', () => {
  it('writes id, event and one line of JSON data', () => {
    expect(sseFrame('text.delta', { text: 'a\nb\r\nc' }, 3)).toBe('id: 3\nevent: text.delta\ndata: {"text":"a\\nb\\r\\nc"}\n\n');
    expect(sseFrame('turn.completed', { ok: true })).toBe('event: turn.completed\ndata: {"ok":true}\n\n');
  });

  it('cannot be made to forge fields through the type or the id', () => {
    const frame = sseFrame('evil\r\ndata: injected', null, '1\nevent: x');
    expect(frame.split('\n').filter((l) => l.startsWith('data:'))).toEqual(['data: null']);
    expect(frame.split('\n').filter((l) => l.startsWith('event:'))).toHaveLength(1);
  });
});

describe('Accept negotiation', () => {
  it.each([
    ['text/event-stream', true],
    ['application/json, text/event-stream', true],
    ['TEXT/EVENT-STREAM;q=0.5', true],
    ['text/event-stream;q=0', false],
    ['application/json', false],
    ['*/*', false],
    [undefined, false],
  ])('%s → %s', (accept, expected) => {
    expect(acceptsEventStream(accept)).toBe(expected);
  });
});

describe('error mapping', () => {
  it('keeps the code and message of TetherErrors and hides INTERNAL ones', () => {
    expect(toHttpError(new TetherError(ErrorCode.QUEUE_FULL, 'full'))).toMatchObject({ status: 429, body: { error: { code: 'QUEUE_FULL', message: 'full' } } });
    expect(toHttpError(new TetherError(ErrorCode.AGENT_FAILED, 'x')).status).toBe(502);
    const internal = toHttpError(new TetherError(ErrorCode.INTERNAL, 'SELECT * FROM secrets at /srv/db'));
    expect(internal.status).toBe(500);
    expect(internal.body.error.message).not.toContain('secrets');
    const thrown = toHttpError(new Error('ENOENT /home/op/.ssh/id_rsa'));
    expect(thrown).toMatchObject({ status: 500, internal: true, body: { error: { code: 'INTERNAL' } } });
    expect(thrown.body.error.message).not.toContain('.ssh');
  });

  it('maps fastify and zod errors to INVALID_INPUT with their 4xx status', () => {
    expect(toHttpError(Object.assign(new Error('x'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }))).toMatchObject({ status: 413, body: { error: { code: 'INVALID_INPUT' } } });
    expect(toHttpError(Object.assign(new Error('x'), { statusCode: 404 })).body.error.code).toBe('NOT_FOUND');
    const zerr = z.object({ a: z.number() }).safeParse({ a: 'x' }).error!;
    expect(toHttpError(zerr)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });
  });
});

describe('allowed roots', () => {
  it('tells inside from outside, including prefixes that only look inside', () => {
    expect(isInside('/srv/repos', '/srv/repos')).toBe(true);
    expect(isInside('/srv/repos', '/srv/repos/a/b')).toBe(true);
    expect(isInside('/srv/repos', '/srv/repos-evil')).toBe(false);
    expect(isInside('/srv/repos', '/srv')).toBe(false);
    expect(isInside('/srv/repos', '/srv/repos/..foo')).toBe(true);
    expect(isInside('/', '/anything')).toBe(true);
  });

  it('checks real paths against several roots and refuses a missing root at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-roots-'));
    try {
      mkdirSync(join(dir, 'a'));
      mkdirSync(join(dir, 'b'));
      mkdirSync(join(dir, 'c'));
      symlinkSync(join(dir, 'c'), join(dir, 'a', 'to-c'));
      const limits = createLimits({ allowedRoots: `${join(dir, 'a')}:${join(dir, 'b')}`, allowBypassPermissions: true, maxPromptChars: 10 }, dir);
      expect(limits.check('hi', { cwd: 'b' }).cwd).toBe(join(dir, 'b'));
      expect(limits.check('hi', { cwd: join(dir, 'a') }).cwd).toBe(join(dir, 'a'));
      expect(() => limits.check('hi', { cwd: join(dir, 'a', 'to-c') })).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => limits.check('hi', { cwd: join(dir, 'c') })).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => limits.check('x'.repeat(11), {})).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(limits.check('hi', { permissionMode: 'bypassPermissions' }).permissionMode).toBe('bypassPermissions');
      // Without a prompt (PATCH, import): the same settings checks.
      expect(limits.checkSettings({ cwd: 'b' }).cwd).toBe(join(dir, 'b'));
      expect(() => limits.checkSettings({ cwd: join(dir, 'a', 'to-c') })).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      const strict = createLimits({ allowedRoots: join(dir, 'a'), allowBypassPermissions: false, maxPromptChars: 10 }, dir);
      expect(() => strict.checkSettings({ permissionMode: 'bypassPermissions' })).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => strict.check('hi', { permissionMode: 'bypassPermissions' })).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => createLimits({ allowedRoots: join(dir, 'missing'), allowBypassPermissions: false, maxPromptChars: 10 }, dir)).toThrow(/TETHER_ALLOWED_ROOTS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
