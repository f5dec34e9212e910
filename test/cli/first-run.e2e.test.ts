import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';
import { mockAgentEnv, startMockAnthropic, type MockAnthropic } from '../../src/testing/mock-anthropic.js';
import { POSTGRES_REQUIRED, TEST_DATABASE_URL, adminQuery, postgresUnreachable } from '../helpers/postgres.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/tether.js');
const built = existsSync(join(ROOT, 'dist/cli/main.js'));

/** What a newcomer meets in the first five minutes: the demo, `serve --mock`, and the messages on the way. */
describe('the first five minutes (real agent)', () => {
  let dir: string;
  let home: string;
  /** No credentials at all, as on a machine where nobody ran `claude login`. */
  let bare: NodeJS.ProcessEnv;
  let n = 0;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tether-first-'));
    home = join(dir, 'home');
    mkdirSync(home);
    mkdirSync(join(dir, 'work'));
    bare = { PATH: process.env.PATH, HOME: home, TETHER_CWD: join(dir, 'work'), TETHER_ALLOWED_ROOTS: dir, TETHER_LOG_LEVEL: 'silent', TETHER_JANITOR_INTERVAL: '0' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));

  const db = (): string => join(dir, `db-${++n}`, 'tether.db');

  async function cli(args: string[], env: NodeJS.ProcessEnv = bare, extra: Partial<CliIO> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) }, env, ...extra });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  /** `tether serve` in-process until SIGTERM; resolves with its URL once it listens. */
  async function serveWith(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const signals = new EventEmitter();
    const out: string[] = [];
    const err: string[] = [];
    let listening!: (url: string) => void;
    const url = new Promise<string>((r) => (listening = r));
    const io: CliIO = {
      stdout: {
        write: (s) => {
          out.push(s);
          const m = /listening on (\S+)/.exec(s);
          if (m) listening(m[1]!);
        },
      },
      stderr: { write: (s) => void err.push(s) },
      env: { ...bare, ...extraEnv },
      signals,
    };
    const exited = main(['--db', db(), 'serve', '--port', '0', ...args], io);
    const first = await Promise.race([url, exited.then((code) => { throw new Error(`serve exited ${code}: ${err.join('')}`); })]);
    return {
      url: first,
      stdout: () => out.join(''),
      stderr: () => err.join(''),
      stop: async () => {
        signals.emit('SIGTERM');
        return exited;
      },
    };
  }

  it('demo runs three turns offline and prints no help first', async () => {
    const r = await cli(['--db', db(), 'demo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^demo: mock Anthropic API on http:\/\/127\.0\.0\.1:\d+; /);
    expect(r.stdout).not.toContain('Usage:');
    expect(r.stdout).toContain('The third reply says "Reply #3"');
    const help = await cli(['--help']);
    const line = help.stdout.split('\n').find((l) => /^ {2}demo\b/.test(l)) ?? '';
    expect(line).toContain('offline');
    expect(line).not.toContain('npm start');
  });

  it('serve --mock answers curl and `tether --server` without any credentials, and says it is a mock', async () => {
    // Warnings are log lines: this test's default level (silent) would hide them.
    const s = await serveWith(['--mock'], { TETHER_LOG_LEVEL: 'warn' });
    try {
      // A warning of the daemon's log (JSON here: stderr is not a terminal).
      expect(s.stderr()).toMatch(/"level":40,.*"msg":"--mock: agents talk to mocks of the Anthropic API on http:\/\/127\.0\.0\.1:\d+ and of the OpenAI Responses API on http:\/\/127\.0\.0\.1:\d+, not to Claude or Codex/);
      expect(s.stdout()).toMatch(/agents: mock APIs on http:\/\/127\.0\.0\.1:\d+ and http:\/\/127\.0\.0\.1:\d+\)\n$/);
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(200);
      const res = await fetch(`${s.url}/v1/sessions/discord%3A42/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'remember 7' }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ type: 'turn.completed', text: 'Reply #1: remember 7' });
      // The CLI in client mode needs nothing but the URL: the mock's environment is the daemon's.
      expect(await cli(['--server', s.url, 'send', 'discord:42', 'what was it?'])).toMatchObject({ code: 0, stdout: 'Reply #2: what was it?\n' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('serve without credentials warns at start, and /readyz does not say the agent is ok', async () => {
    const s = await serveWith([], { TETHER_LOG_LEVEL: 'warn' });
    try {
      expect(s.stderr()).toMatch(/"level":40,.*"msg":"no credentials for Claude Code/);
      expect(s.stderr()).toContain('tether serve --mock');
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', agent: { ok: false } });
      const sent = await fetch(`${s.url}/v1/sessions/k/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'hi' }) });
      expect(sent.status).toBe(503);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('ls, show, stats, turns and export refuse a --db that does not exist, and create nothing', async () => {
    const missing = join(dir, 'typo', 'tether.db');
    for (const args of [['ls'], ['show', 'k'], ['stats'], ['turns', 'k'], ['export', 'k']]) {
      const r = await cli(['--db', missing, ...args]);
      expect(r.code, args[0]).toBe(4);
      expect(r.stderr, args[0]).toBe(`error: NOT_FOUND: no Tether database at ${missing} (--db): ${args[0]} reads an existing one and creates none. Check the path, or create the database by sending a first message: tether --db ${missing} send <key> <prompt>\n`);
    }
    expect(existsSync(join(dir, 'typo'))).toBe(false);
    const fromEnv = await cli(['ls'], { ...bare, TETHER_DB: missing });
    expect(fromEnv.stderr).toContain('(TETHER_DB)');
  });

  it('a config error names the setting, its variable and what is expected', async () => {
    const r = await cli(['serve'], { ...bare, TETHER_PORT: 'abc' });
    expect(r).toMatchObject({ code: 2, stderr: 'error: INVALID_INPUT: invalid configuration: TETHER_PORT="abc" (setting port): expected an integer from 0 to 65,535\n' });
  });

  describe('with a mock API', () => {
    let mock: MockAnthropic;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      mock = await startMockAnthropic();
      env = { ...bare, ...mockAgentEnv(mock) };
    });
    afterAll(async () => mock?.stop());

    it.skipIf(!built)(`gc reports what the start-up pass recovered${built ? '' : ': skipped, dist/cli/main.js is missing (npm test builds it first)'}`, async () => {
      const file = db();
      // A turn left running by a process killed mid-turn: the next Tether to open the store recovers it.
      mock.enqueue({ text: 'never seen', delayMs: 600_000 });
      const child = spawn(process.execPath, [BIN, 'send', 'k:dead', 'hang', '--json'], { env: { ...env, TETHER_DB: file }, stdio: ['ignore', 'pipe', 'ignore'] });
      const exited = new Promise((r) => child.on('close', r));
      await new Promise<void>((started, failed) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('"turn.started"')) started();
        });
        void exited.then(() => failed(new Error(`the send ended before its turn started: ${out}`)));
      });
      child.kill('SIGKILL');
      await exited;
      const r = await cli(['--db', file, 'gc'], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^expired 0 · evicted 0 · recovered 1( · [a-z]+ \d+)*\n$/);
      // Nothing is left for a second run to do.
      expect((await cli(['--db', file, 'gc'], env)).stdout).toBe('expired 0 · evicted 0 · recovered 0\n');
    });
  });

  it('serve on PostgreSQL prints the URL without its password, and the schema', async (ctx) => {
    const why = await postgresUnreachable();
    if (why !== null) {
      if (POSTGRES_REQUIRED) throw new Error(`PostgreSQL is required (TETHER_REQUIRE_POSTGRES=1) but unreachable: ${why}`);
      ctx.skip(`PostgreSQL unreachable at ${TEST_DATABASE_URL}: ${why}`);
    }
    const schema = `tether_first_run_${process.pid}`;
    const url = new URL(TEST_DATABASE_URL);
    // A password the server may not even ask for: it must not be printed either way.
    if (url.password === '') url.password = 'not-printed';
    const secret = decodeURIComponent(url.password);
    const pgEnv = { TETHER_DATABASE_SCHEMA: schema };
    const s = await serveWith(['--mock', '--database-url', url.toString()], pgEnv).catch(async (err: unknown) => {
      // pg_hba may refuse a password it did not expect; then the URL as given is the one to use.
      if (String(err).includes('refused the login')) return serveWith(['--mock', '--database-url', TEST_DATABASE_URL], pgEnv);
      throw err;
    });
    try {
      expect(s.stdout()).toContain('db: PostgreSQL postgres://');
      expect(s.stdout()).not.toContain(secret);
      expect(s.stdout()).not.toContain('tether.db');
      expect(s.stdout()).toContain(`, schema ${schema}`);
    } finally {
      await s.stop();
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    }
  });
});
