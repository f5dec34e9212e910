import { EventEmitter } from 'node:events';
import { Command } from 'commander';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerServe } from '../../src/cli/commands/serve.js';
import type { CliContext } from '../../src/cli/output.js';
import { loadConfig } from '../../src/config.js';
import { serve, type RunningServer } from '../../src/server/serve.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { json, readSse, waitFor, type SseEvent } from './server-fixture.js';

describe('graceful shutdown of the daemon (real agent)', () => {
  let fx: AgentFixture;
  let server: RunningServer;
  beforeEach(async () => {
    fx = await agentFixture();
    const config = loadConfig({ db: fx.dbPath, defaultCwd: fx.cwd, allowedRoots: fx.dir, port: 0, janitorIntervalSec: 0 }, fx.env);
    server = await serve({ config, env: fx.env, cwd: fx.dir, logger: pino({ level: 'silent' }) });
  });
  afterEach(async () => {
    await server.close({ graceMs: 0 });
    await fx.cleanup();
  });

  const running = async (key: string): Promise<void> => {
    await waitFor(async () => {
      const res = await fetch(`${server.url}/v1/sessions/${key}`);
      return res.status === 200 && (await json(res)).status === 'running';
    });
  };

  it('interrupts a turn still running after a short grace, journals it, and ends its stream', async () => {
    fx.mock.enqueue({ text: 'too slow', delayMs: 60_000 });
    const res = await fetch(`${server.url}/v1/sessions/slow%3A1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ prompt: 'take your time' }),
    });
    const events: SseEvent[] = [];
    const reading = (async () => {
      for await (const e of readSse(res)) events.push(e);
    })().catch(() => undefined);
    await running('slow%3A1');

    const started = Date.now();
    await server.close({ graceMs: 300 });
    // Nowhere near the reply's minute: the grace, then the interrupt and the agent's own stop
    // (up to 5 s, more on a starved machine).
    expect(Date.now() - started).toBeLessThan(30_000);
    await reading;
    expect(events.at(-1)).toMatchObject({ event: 'turn.failed', data: { error: { code: 'INTERRUPTED' } } });

    // Not listening any more.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    // The journal says so, read by a fresh Tether on the same database.
    const reopened = await fx.open();
    const turns = await reopened.turns('slow:1');
    expect(turns.map((t) => t.status)).toEqual(['interrupted']);
  });

  it('lets a running turn finish within a long grace before close resolves; new requests get 503 with Retry-After', async () => {
    fx.mock.enqueue({ text: 'made it', delayMs: 800 });
    const pending = fetch(`${server.url}/v1/sessions/slow%3A2/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'finish please' }),
    });
    await running('slow%3A2');
    // A tail never ends by itself: shutdown ends it.
    const tail = await fetch(`${server.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
    const tailEnded = (async () => {
      for await (const _ of readSse(tail)) void _;
      return true;
    })();

    const closing = server.close({ graceMs: 20_000 });
    expect(await tailEnded).toBe(true);
    // The server keeps listening while it drains: a new request, on a new connection, gets the
    // contract's 503 and when to retry, never a refused connection.
    for (const during of [
      await fetch(`${server.url}/healthz`),
      await fetch(`${server.url}/v1/sessions/new%3A1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'too late' }) }),
      await fetch(`${server.url}/v1/sessions`),
    ]) {
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(during.headers.get('connection')).toBe('close');
      expect(await json(during)).toEqual({ error: { code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('shutting down') } });
    }
    // Readiness says not ready, in its own shape, so a load balancer takes the node out.
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await json(ready)).toMatchObject({ status: 'unavailable', draining: true });
    const res = await pending;
    await closing;
    expect(res.status).toBe(200);
    expect((await json(res)).text).toBe('made it');

    const reopened = await fx.open();
    expect((await reopened.turns('slow:2')).map((t) => t.status)).toEqual(['succeeded']);
    // The refused message was never journaled.
    expect(await reopened.turns('new:1')).toEqual([]);
    // Not listening once the drain is over.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe('tether serve (CLI)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const cli = (extraEnv: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const signals = new EventEmitter();
    const ctx: CliContext = {
      io: {
        stdout: { write: (s: string) => void out.push(s) },
        stderr: { write: (s: string) => void err.push(s) },
        // No parked spare: these servers stop right after they start, while a spare would still be
        // starting, and RunnerPool.close() does not yet wait for a spare that finishes starting
        // during close (its process outlives tether.close and races the temp dir's removal).
        env: { ...fx.env, TETHER_CWD: fx.cwd, TETHER_ALLOWED_ROOTS: fx.dir, TETHER_LOG_LEVEL: 'silent', TETHER_JANITOR_INTERVAL: '0', TETHER_SPARES: '0', ...extraEnv },
        signals,
      },
      exitCode: -1,
    };
    // The root program's global options, as src/cli/main.ts declares them.
    const program = new Command('tether').option('--db <path>').option('--server <url>').option('--token <token>').option('--tenant <name>').exitOverride();
    registerServe(program, ctx);
    return { program, ctx, out, err, signals };
  };

  it('prints one listening line, serves, and exits 0 on SIGTERM', async () => {
    const { program, ctx, out, signals } = cli();
    const done = program.parseAsync(['serve', '--port', '0', '--db', fx.dbPath], { from: 'user' });
    const line = await waitFor(async () => out.join(''));
    expect(line).toMatch(/^tether listening on http:\/\/127\.0\.0\.1:\d+ \(auth: off, db: .+tether\.db\)\n$/);
    const url = /(http:\/\/\S+)/.exec(line)![1]!;
    const res = await fetch(`${url}/v1/sessions/cli%3A1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'over http' }) });
    expect((await json(res)).text).toBe('Reply #1: over http');

    signals.emit('SIGTERM');
    await done;
    expect(ctx.exitCode).toBe(0);
    expect(out).toHaveLength(1);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('reports auth on with TETHER_TOKENS, and refuses --database-url with a clear error', async () => {
    const withTokens = cli({ TETHER_TOKENS: 'tok-aaaaaaaaaaaaaaaaaaaa=alpha' });
    const done = withTokens.program.parseAsync(['serve', '--port', '0', '--db', fx.dbPath], { from: 'user' });
    const line = await waitFor(async () => withTokens.out.join(''));
    expect(line).toContain('(auth: on,');
    withTokens.signals.emit('SIGINT');
    await done;
    expect(withTokens.ctx.exitCode).toBe(0);

    const pg = cli();
    await expect(pg.program.parseAsync(['serve', '--port', '0', '--database-url', 'postgres://db.example/tether'], { from: 'user' })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('PostgreSQL'),
    });
    expect(pg.out).toEqual([]);
  });
});
