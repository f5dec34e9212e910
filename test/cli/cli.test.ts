import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';
import type { TurnHandle } from '../../src/broker/api.js';
import { streamTurn } from '../../src/cli/commands/send.js';
import type { TetherEvent, TurnResult } from '../../src/domain/events.js';
import { ErrorCode, TetherError } from '../../src/errors.js';
import { defaultMockReply, mockAgentEnv, startMockAnthropic, type MockAnthropic } from '../../src/testing/mock-anthropic.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILT_CLI = join(ROOT, 'dist/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI run in-process against the real agent binary and a local Messages API. */
describe('tether CLI (real agent, mock API)', () => {
  let mock: MockAnthropic;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let db: string;
  let n = 0;

  beforeAll(async () => {
    mock = await startMockAnthropic();
    dir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
    const home = join(dir, 'home');
    const work = join(dir, 'work');
    mkdirSync(home);
    mkdirSync(work);
    // Only what the agent needs: no TETHER_URL or real credentials leak in from the outer shell.
    env = {
      PATH: process.env.PATH,
      HOME: home,
      ...mockAgentEnv(mock),
      TETHER_CWD: work,
      TETHER_LOG_LEVEL: 'silent',
      TETHER_JANITOR_INTERVAL: '0',
    };
  });
  afterAll(async () => {
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  beforeEach(() => {
    db = join(dir, `tether-${++n}.db`);
    mock.reset();
  });

  function io(extra: Partial<CliIO> = {}, onStdout?: (s: string) => void): { io: CliIO; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    return {
      io: {
        stdout: { write: (s) => { out.push(s); onStdout?.(s); } },
        stderr: { write: (s) => void err.push(s) },
        env,
        ...extra,
      },
      out,
      err,
    };
  }

  async function run(args: string[], extra: Partial<CliIO> = {}, onStdout?: (s: string) => void): Promise<Run> {
    const c = io(extra, onStdout);
    const code = await main(['--db', db, ...args], c.io);
    return { code, stdout: c.out.join(''), stderr: c.err.join('') };
  }

  const json = <T>(r: Run): T => JSON.parse(r.stdout) as T;
  const ndjson = (r: Run): TetherEvent[] => r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as TetherEvent);

  it('continues the conversation across two sends (the second prompt read from stdin)', async () => {
    const first = await run(['send', 'discord:42', 'hello', 'there']);
    expect(first).toMatchObject({ code: 0, stdout: 'Reply #1: hello there\n' });

    const second = await run(['send', 'discord:42', '-'], { stdin: Readable.from(['and again\n']) });
    expect(second).toMatchObject({ code: 0, stdout: 'Reply #2: and again\n' });
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['hello there', 'and again']);
  });

  it('--json prints NDJSON, one event per line, ending with turn.completed', async () => {
    const r = await run(['send', 'user:7', 'stream', 'me', '--json']);
    expect(r.code).toBe(0);
    const events = ndjson(r);
    expect(events[0]?.type).toBe('turn.queued');
    expect(events.map((e) => e.type)).toContain('turn.started');
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'turn.completed', key: 'user:7', text: 'Reply #1: stream me' });
    expect(last).toHaveProperty('usage.inputTokens');
    expect(last).toHaveProperty('context.window');
    expect(last).toHaveProperty('durationMs');
  });

  it('a failed turn ends the NDJSON with turn.failed, reports it on stderr and exits 1', async () => {
    // Every main request fails (the agent may retry), until the default reply is restored.
    mock.setDefault(() => ({ fault: { kind: 'status', status: 400, message: 'mock refuses' } }));
    const r = await run(['send', 'k:fail', 'doomed', '--json']).finally(() => mock.setDefault(defaultMockReply));
    expect(r.code).toBe(1);
    const last = ndjson(r).at(-1);
    expect(last).toMatchObject({ type: 'turn.failed', key: 'k:fail', error: { code: 'AGENT_FAILED' } });
    expect(r.stderr).toMatch(/^error: AGENT_FAILED: /);
  });

  it('ls --json and show --json render the Session JSON of the contract', async () => {
    const sent = await run(['send', 'slack:T01/C02', 'hi', '--label', 'team=a', '--label', 'env=test', '--max-turns', '3', '--append-system-prompt', 'be brief']);
    expect(sent.code).toBe(0);

    const shown = await run(['show', 'slack:T01/C02', '--json']);
    expect(shown.code).toBe(0);
    const session = json<Record<string, unknown>>(shown);
    for (const field of ['id', 'key', 'tenant', 'backend', 'agentSessionId', 'status', 'generation', 'config', 'labels', 'turns', 'usage', 'context', 'createdAt', 'lastActiveAt', 'expiresAt']) {
      expect(session).toHaveProperty(field);
    }
    expect(session).toMatchObject({
      key: 'slack:T01/C02',
      tenant: 'default',
      backend: 'claude',
      status: 'idle',
      generation: 1,
      turns: 1,
      labels: { team: 'a', env: 'test' },
      config: { model: null, permissionMode: null, appendSystemPrompt: 'be brief', maxTurns: 3 },
    });
    expect(Object.keys(session.usage as object).sort()).toEqual(['cacheReadTokens', 'cacheWriteTokens', 'costUsd', 'inputTokens', 'outputTokens']);
    expect(Object.keys(session.context as object).sort()).toEqual(['ratio', 'tokens', 'window']);
    expect(typeof session.agentSessionId).toBe('string');

    const listed = await run(['ls', '--json', '--label', 'team=a']);
    expect(listed.code).toBe(0);
    expect(json<unknown[]>(listed)).toEqual([session]);
    expect(json<unknown[]>(await run(['ls', '--json', '--label', 'team=b']))).toEqual([]);
    expect(json<unknown[]>(await run(['ls', '--json', '--status', 'closed']))).toEqual([]);

    const human = await run(['ls']);
    expect(human.stdout.split('\n')[0]).toMatch(/^KEY\s+STATUS\s+GEN\s+TURNS\s+CONTEXT\s+LAST ACTIVE$/);
    expect(human.stdout).toMatch(/slack:T01\/C02\s+idle\s+1\s+1\s+\d+%\s+\d+s ago/);
  });

  it('turns --json lists the turns; reset closes the generation and the next send opens another', async () => {
    await run(['send', 'k:reset', 'one']);
    await run(['send', 'k:reset', 'two']);
    const turns = await run(['turns', 'k:reset', '--json']);
    expect(turns.code).toBe(0);
    expect(json<Array<Record<string, unknown>>>(turns).map((t) => [t.seq, t.status, t.prompt, t.text])).toEqual([
      [1, 'succeeded', 'one', 'Reply #1: one'],
      [2, 'succeeded', 'two', 'Reply #2: two'],
    ]);
    expect((await run(['turns', 'k:reset'])).stdout).toMatch(/^#1\s+succeeded\s+\S+\s+one\n#2\s+succeeded\s+\S+\s+two\n$/);

    const reset = await run(['reset', 'k:reset']);
    expect(reset).toMatchObject({ code: 0 });
    expect(reset.stdout).toContain('closed generation 1');
    expect(json<Record<string, unknown>>(await run(['show', 'k:reset', '--json']))).toMatchObject({ generation: 1, status: 'closed' });

    // A new generation is a new agent conversation: the count starts again.
    expect((await run(['send', 'k:reset', 'three'])).stdout).toBe('Reply #1: three\n');
    expect(json<Record<string, unknown>>(await run(['show', 'k:reset', '--json']))).toMatchObject({ generation: 2, status: 'idle', turns: 1 });
    expect(json<unknown[]>(await run(['turns', 'k:reset', '--json']))).toHaveLength(3);
  });

  it('rm removes the key: show, rm and reset then exit 4', async () => {
    await run(['send', 'k:rm', 'bye']);
    const rm = await run(['rm', 'k:rm']);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('removed "k:rm"');
    for (const args of [['show', 'k:rm'], ['rm', 'k:rm'], ['reset', 'k:rm'], ['turns', 'k:rm']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toBe('error: NOT_FOUND: no session for key "k:rm"\n');
    }
  });

  it('usage errors exit 2 with one line and a hint to --help', async () => {
    for (const args of [['send'], ['send', 'k'], ['frobnicate'], ['ls', '--limit', '0'], ['ls', '--status', 'sleepy'], ['send', 'k', 'x', '--permission-mode', 'yolo'], ['send', 'k', 'x', '--max-turns', 'many'], ['show', 'a', 'b'], []]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/--help/);
    }
    const r = await run(['ls', '--bogus']);
    expect(r.stderr).toBe(`error: unknown option '--bogus'\n(run "tether ls --help" for usage)\n`);
    expect((await run(['--help'])).code).toBe(0);
  });

  it('invalid input exits 2 and writes nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['send', 'bad\u0007key', 'hi'], /^error: INVALID_INPUT: key contains a control/],
      [['send', 'k', 'hi', '--label', 'no-equals'], /^error: INVALID_INPUT: label "no-equals"/],
      [['send', 'k', 'hi', '--cwd', join(dir, 'missing')], /^error: INVALID_INPUT: --cwd .* does not exist/],
      [['send', 'k', '   '], /^error: INVALID_INPUT: prompt must not be empty/],
      [['--tenant', 'no spaces', 'send', 'k', 'hi'], /^error: INVALID_INPUT: tenant/],
      [['show', '\u0000'], /^error: INVALID_INPUT: key/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(db)).toBe(false);
    expect(json<unknown[]>(await run(['ls', '--json']))).toEqual([]);
    expect(mock.mainRequests()).toHaveLength(0);
  });

  // Client mode itself is covered against a running daemon in client-mode.test.ts.
  it('--db with --server or TETHER_URL exits 2 and opens nothing', async () => {
    expect(await run(['--server', 'http://127.0.0.1:7420', 'ls'])).toMatchObject({ code: 2, stderr: 'error: INVALID_INPUT: --db and --server cannot be combined\n' });
    expect(await run(['send', 'k', 'hi'], { env: { ...env, TETHER_URL: 'http://127.0.0.1:7420' } })).toMatchObject({
      code: 2,
      stderr: 'error: INVALID_INPUT: --db and TETHER_URL cannot be combined; unset TETHER_URL to use a local database\n',
    });
    expect(existsSync(db)).toBe(false);
  });

  it('SIGINT interrupts the turn once, waits for it to end, and exits 130', async () => {
    mock.enqueue({ text: 'never seen', delayMs: 30_000 });
    const signals = new EventEmitter();
    const r = await run(['send', 'k:int', 'long job', '--json'], { signals }, (s) => {
      if (s.includes('"turn.started"')) setTimeout(() => signals.emit('SIGINT'), 200);
    });
    expect(r.code).toBe(130);
    expect(ndjson(r).at(-1)).toMatchObject({ type: 'turn.failed', error: { code: 'INTERRUPTED' } });
    expect(r.stderr).toContain('interrupting');
    expect(signals.listenerCount('SIGINT')).toBe(0);
    const turns = json<Array<Record<string, unknown>>>(await run(['turns', 'k:int', '--json']));
    expect(turns.map((t) => t.status)).toEqual(['interrupted']);
  });

  it('stats and gc print counts', async () => {
    await run(['send', 'k:stats', 'count me']);
    const stats = json<{ sessions: { live: number }; turns: { succeeded: number } }>(await run(['stats', '--json']));
    expect(stats.sessions.live).toBe(1);
    expect(stats.turns.succeeded).toBe(1);
    expect(await run(['gc'])).toMatchObject({ code: 0, stdout: 'expired 0 · evicted 0 · recovered 0\n' });
  });

  // The built binary, as users run it: each call is its own process.
  const built = existsSync(BUILT_CLI);
  const needsBuild = (title: string): string => (built ? title : `${title}: skipped, dist/cli/main.js is missing (npm test builds it first)`);
  const bin = join(ROOT, 'bin/tether.js');

  it.skipIf(!built)(needsBuild('continues one conversation across three separate processes (built binary)'), async () => {
    const exec = promisify(execFile);
    const cliEnv = { ...env, TETHER_DB: db };
    const replies: string[] = [];
    for (const prompt of ['first', 'second', 'third']) {
      const { stdout } = await exec(process.execPath, [bin, 'send', 'proc:1', prompt], { env: cliEnv, cwd: dir, timeout: 30_000 });
      replies.push(stdout);
    }
    expect(replies).toEqual(['Reply #1: first\n', 'Reply #2: second\n', 'Reply #3: third\n']);
    const { stdout } = await exec(process.execPath, [bin, 'show', 'proc:1', '--json'], { env: cliEnv, cwd: dir });
    expect(JSON.parse(stdout)).toMatchObject({ key: 'proc:1', generation: 1, turns: 3 });
  });

  // The running turn belongs to another process, as it would in real use.
  it.skipIf(!built)(needsBuild('--reject-if-busy exits 3 while another process runs a turn of the key'), async () => {
    mock.enqueue({ text: 'slow answer', delayMs: 1_500 });
    const child = spawn(process.execPath, [bin, 'send', 'k:busy', 'slow', '--json'], { env: { ...env, TETHER_DB: db }, cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    const exited = new Promise<number | null>((r) => child.on('close', r));
    await new Promise<void>((started, failed) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('"turn.started"')) started();
      });
      void exited.then(() => failed(new Error(`the slow send ended before its turn started: ${stdout}`)));
    });
    const busy = await run(['send', 'k:busy', 'impatient', '--reject-if-busy']);
    expect(busy.code).toBe(3);
    expect(busy.stderr).toMatch(/^error: SESSION_BUSY: /);
    expect(await exited).toBe(0);
    expect(stdout.trimEnd().split('\n').at(-1)).toContain('"type":"turn.completed"');
  });
});

/** How `send` prints a turn, fed with scripted events instead of an agent. */
describe('streamTurn', () => {
  const base = { tenant: 'default', key: 'k', turnId: 't1', sessionId: 's1', at: '2026-01-01T00:00:00.000Z' };
  const completed = (text: string): TurnResult => ({
    ...base,
    type: 'turn.completed',
    agentSessionId: 'a1',
    text,
    usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 },
    context: { tokens: 1, window: 10, ratio: 0.1 },
    durationMs: 5,
  });

  function fakeHandle(events: TetherEvent[], outcome: TurnResult | TetherError): TurnHandle {
    const failed = outcome instanceof TetherError;
    const result = failed ? Promise.reject(outcome) : Promise.resolve(outcome);
    const accepted = failed && outcome.code === 'SESSION_BUSY' ? Promise.reject(outcome) : Promise.resolve({ turnId: 't1', sessionId: 's1', seq: 1 });
    return {
      accepted,
      result,
      interrupt: () => undefined,
      async *[Symbol.asyncIterator]() {
        yield* events;
      },
    };
  }

  function capture(): { io: CliIO; out: () => string } {
    const out: string[] = [];
    return { io: { stdout: { write: (s) => void out.push(s) }, stderr: { write: () => undefined }, env: {} }, out: () => out.join('') };
  }

  it('puts the messages around a tool call on their own lines and ends with a newline', async () => {
    const c = capture();
    const events: TetherEvent[] = [
      { ...base, type: 'text.delta', text: 'Let me ' },
      { ...base, type: 'text.delta', text: 'look.' },
      { ...base, type: 'message', role: 'assistant', text: 'Let me look.' },
      { ...base, type: 'tool.use', toolUseId: 'u1', name: 'Read', input: {} },
      { ...base, type: 'tool.result', toolUseId: 'u1', content: 'x', isError: false },
      { ...base, type: 'text.delta', text: 'Done.' },
      { ...base, type: 'message', role: 'assistant', text: 'Done.' },
      completed('Done.'),
    ];
    const outcome = await streamTurn(fakeHandle(events, completed('Done.')), c.io, { json: false, key: 'k', tenant: 'default' });
    expect(outcome.error).toBeNull();
    expect(c.out()).toBe('Let me look.\nDone.\n');
  });

  it('prints the final text when the agent streamed no deltas', async () => {
    const c = capture();
    await streamTurn(fakeHandle([completed('whole reply')], completed('whole reply')), c.io, { json: false, key: 'k', tenant: 'default' });
    expect(c.out()).toBe('whole reply\n');
  });

  it('--json ends with turn.failed even when the turn was refused before any event', async () => {
    const c = capture();
    const busy = new TetherError(ErrorCode.SESSION_BUSY, 'busy');
    const outcome = await streamTurn(fakeHandle([], busy), c.io, { json: true, key: 'k', tenant: 'acme' });
    expect(outcome.error?.code).toBe('SESSION_BUSY');
    const lines = c.out().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ type: 'turn.failed', tenant: 'acme', key: 'k', turnId: '', error: { code: 'SESSION_BUSY', message: 'busy' } });
  });
});
