import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';
import type { TurnHandle } from '../../src/broker/api.js';
import { streamTurn } from '../../src/cli/run-turn.js';
import type { TetherEvent, TurnResult } from '../../src/domain/events.js';
import { ErrorCode, TetherError } from '../../src/errors.js';
import { defaultMockReply, type MockAnthropic } from '../../src/testing/mock-anthropic.js';
import { cliFixture, type CliFixture } from '../helpers/cli-fixture.js';

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

  let fixture: CliFixture | undefined;

  beforeAll(async () => {
    fixture = await cliFixture('tether-cli-');
    ({ mock, dir, env } = fixture);
  });
  afterAll(async () => fixture?.stop());
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
    // Reading creates nothing either: ls names the missing database instead of listing none.
    expect(await run(['ls', '--json'])).toMatchObject({ code: 4, stderr: expect.stringContaining(`no Tether database at ${db} (--db)`) });
    expect(existsSync(db)).toBe(false);
    expect(mock.mainRequests()).toHaveLength(0);
  });

  // Client mode itself is covered against a running daemon in client-mode.e2e.test.ts.
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

  it('interrupt stops a turn that another process runs on the same database', async () => {
    mock.enqueue({ text: 'never seen', delayMs: 30_000 });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const sending = run(['send', 'k:other', 'long job', '--json'], { env: { ...env, TETHER_LEASE_TTL_MS: '6000' } }, (s) => {
      if (s.includes('"turn.started"')) started();
    });
    await running;
    const stopped = await run(['interrupt', 'k:other', '--json']);
    expect(stopped.code).toBe(0);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ interrupted: true, turnId: expect.any(String) });
    const r = await sending;
    expect(r.code).toBe(1);
    expect(ndjson(r).at(-1)).toMatchObject({ type: 'turn.failed', error: { code: 'INTERRUPTED' } });
    mock.reset();
  });

  it('stats and gc print counts', async () => {
    await run(['send', 'k:stats', 'count me']);
    const stats = json<{ sessions: { live: number }; turns: { succeeded: number } }>(await run(['stats', '--json']));
    expect(stats.sessions.live).toBe(1);
    expect(stats.turns.succeeded).toBe(1);
    expect(await run(['gc'])).toMatchObject({ code: 0, stdout: 'expired 0 · evicted 0 · recovered 0\n' });
  });

  it('send --meta, --task-id and --mcp-session-id set metadata that show prints and ls --meta finds', async () => {
    const sent = await run(['send', 'meta:1', 'hi', '--meta', 'owner=ann', '--meta', 'n=5', '--task-id', 'T-1', '--mcp-session-id', 'M-1']);
    expect(sent).toMatchObject({ code: 0, stdout: 'Reply #1: hi\n' });
    await run(['send', 'meta:2', 'hi', '--task-id', 'T-2']);
    expect(json<Record<string, unknown>>(await run(['show', 'meta:1', '--json']))).toMatchObject({ metadata: { owner: 'ann', n: '5', taskId: 'T-1', mcpSessionId: 'M-1' } });
    expect((await run(['show', 'meta:1'])).stdout).toMatch(/^metadata:\s+owner=ann, n=5, taskId=T-1, mcpSessionId=M-1$/m);

    const keys = async (...filter: string[]): Promise<string[]> => json<Array<{ key: string }>>(await run(['ls', '--json', ...filter])).map((s) => s.key);
    expect(await keys('--meta', 'taskId=T-1')).toEqual(['meta:1']);
    expect(await keys('--meta', 'n=5', '--meta', 'owner=ann')).toEqual(['meta:1']);
    expect(await keys('--meta', 'n=5', '--meta', 'owner=bob')).toEqual([]);
    expect(await keys('--meta', 'taskId=T-2')).toEqual(['meta:2']);
    // Metadata of a new session only, like labels: a later send does not change it.
    await run(['send', 'meta:1', 'again', '--task-id', 'T-9']);
    expect(await keys('--meta', 'taskId=T-1')).toEqual(['meta:1']);

    for (const args of [['ls', '--meta', 'taskId'], ['ls', '--meta', '=x'], ['ls', '--meta', 'a=1', '--meta', 'a=2'], ['send', 'k', 'hi', '--task-id', ''], ['send', 'k', 'hi', '--meta', 'bad\u0007=x']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^error: INVALID_INPUT: /);
    }
  });

  it('update changes the next turns (model, permission mode), merges labels and metadata, and prints the session', async () => {
    await run(['send', 'up:1', 'one', '--label', 'team=a', '--label', 'env=test', '--meta', 'owner=ann', '--meta', 'n=5']);
    const human = await run(['update', 'up:1', '--model', 'claude-haiku-5-5', '--label', 'tier=gold', '--unlabel', 'env', '--meta', 'owner=bob', '--unmeta', 'n']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^key:\s+up:1$/m);
    expect(human.stdout).toMatch(/^model:\s+claude-haiku-5-5$/m);
    expect(human.stdout).toMatch(/^labels:\s+team=a, tier=gold$/m);
    expect(human.stdout).toMatch(/^metadata:\s+owner=bob$/m);

    expect((await run(['send', 'up:1', 'two'])).stdout).toBe('Reply #2: two\n');
    expect(mock.mainRequests().at(-1)).toMatchObject({ model: 'claude-haiku-5-5', userTexts: ['one', 'two'] });

    const cleared = await run(['update', 'up:1', '--clear-model', '--permission-mode', 'plan', '--json']);
    expect(cleared.code).toBe(0);
    expect(json<Record<string, unknown>>(cleared)).toMatchObject({ key: 'up:1', config: { model: null, permissionMode: 'plan' }, labels: { team: 'a', tier: 'gold' }, metadata: { owner: 'bob' } });
    expect(json<Record<string, unknown>>(await run(['update', 'up:1', '--clear-permission-mode', '--json']))).toMatchObject({ config: { model: null, permissionMode: null } });
    expect((await run(['send', 'up:1', 'three'])).stdout).toBe('Reply #3: three\n');

    expect(await run(['update', 'nobody:1', '--model', 'm'])).toMatchObject({ code: 4, stderr: 'error: NOT_FOUND: no live session for key "nobody:1"\n' });
    await run(['reset', 'up:1']);
    expect((await run(['update', 'up:1', '--label', 'a=1'])).code).toBe(4);
  });

  // Each embedded run resumes the conversation cold: with the model cleared, the start must name
  // the default, or Claude Code keeps the model it last ran on. (A daemon's warm runner is
  // switched in place instead.)
  it('update --clear-model: the next turn runs on the default model again', async () => {
    await run(['send', 'up:clear', 'one']);
    await run(['update', 'up:clear', '--model', 'claude-haiku-5-5']);
    await run(['send', 'up:clear', 'two']);
    await run(['update', 'up:clear', '--clear-model']);
    await run(['send', 'up:clear', 'three']);
    const [first, second, third] = mock.mainRequests().map((r) => r.model);
    expect(second).toBe('claude-haiku-5-5');
    expect(third).toBe(first);
  });

  it('update refuses bad input with exit 2 before opening anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['update', 'k'], /^error: INVALID_INPUT: nothing to change/],
      [['update', 'k', '--model', ''], /^error: INVALID_INPUT: --model must not be empty; --clear-model removes the setting/],
      [['update', 'k', '--model', 'm', '--clear-model'], /^error: option '--clear-model' cannot be used with option '--model <model>'/],
      [['update', 'k', '--permission-mode', 'plan', '--clear-permission-mode'], /cannot be used with option '--permission-mode <mode>'/],
      [['update', 'k', '--permission-mode', 'yolo'], /^error: option '--permission-mode <mode>' argument 'yolo' is invalid/],
      [['update', 'k', '--label', 'a=1', '--unlabel', 'a'], /^error: INVALID_INPUT: --label and --unlabel both name "a"/],
      [['update', 'k', '--meta', 'a=1', '--unmeta', 'a'], /^error: INVALID_INPUT: --meta and --unmeta both name "a"/],
      [['update', 'k', '--label', 'no-equals'], /^error: INVALID_INPUT: label "no-equals"/],
      [['update', 'k', '--unlabel', 'no spaces'], /^error: INVALID_INPUT: label name "no spaces"/],
      [['update', 'k', '--meta', `${'x'.repeat(65)}=1`], /^error: INVALID_INPUT: --meta/],
      [['update', 'k', '--model', 'x'.repeat(201)], /^error: INVALID_INPUT: invalid update model: /],
      [['update', 'bad\u0007key', '--model', 'm'], /^error: INVALID_INPUT: key/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(existsSync(db)).toBe(false);
  });

  it('compact prints the context before and after; interrupt with nothing running says so', async () => {
    await run(['send', 'cmp:1', `remember this: ${'lorem ipsum '.repeat(400)}`]);
    await run(['send', 'cmp:1', 'second question']);
    // The mock answers Claude Code's summarizing request with a short summary, as a model would.
    mock.setDefault((req) => (JSON.stringify(req.body.messages).includes('Respond with TEXT ONLY') ? { text: 'SUMMARY: a long text and a question.' } : defaultMockReply(req)));
    try {
      const human = await run(['compact', 'cmp:1']);
      expect(human.code).toBe(0);
      const [, pre, post] = /^compacted "cmp:1": (\d+) -> (\d+) context tokens\n$/.exec(human.stdout) ?? [];
      expect(Number(pre)).toBeGreaterThan(Number(post));
      const result = json<{ preTokens: number; postTokens: number; context: { tokens: number } }>(await run(['compact', 'cmp:1', '--json']));
      expect(result.context.tokens).toBe(result.postTokens);
      // Nothing to run again right after a compaction: exit 2, as send refuses bad input.
      expect(await run(['regenerate', 'cmp:1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: INVALID_INPUT: /) });
      expect((await run(['send', 'cmp:1', 'third question'])).stdout).toMatch(/third question\n$/);
      expect(mock.mainRequests().at(-1)?.userTexts.join('\n')).toContain('SUMMARY: a long text');
    } finally {
      mock.setDefault(defaultMockReply);
    }
    expect(await run(['compact', 'nobody:1'])).toMatchObject({ code: 4, stderr: expect.stringMatching(/^error: NOT_FOUND: /) });

    expect(await run(['interrupt', 'cmp:1'])).toMatchObject({ code: 0, stdout: 'no turn of "cmp:1" is running\n' });
    expect(await run(['interrupt', 'cmp:1', '--json'])).toMatchObject({ code: 0, stdout: '{"interrupted":false,"turnId":null}\n' });
    expect(await run(['interrupt', 'nobody:1'])).toMatchObject({ code: 4, stderr: 'error: NOT_FOUND: no session for key "nobody:1"\n' });
  });

  it('fork copies a conversation (all of it, or up to a turn); a live target needs --replace', async () => {
    for (const p of ['one', 'two', 'three']) await run(['send', 'src:1', p]);
    expect(await run(['fork', 'src:1', 'copy:1'])).toMatchObject({ code: 0, stdout: 'forked "src:1" to "copy:1" (3 turns)\n' });
    expect((await run(['send', 'copy:1', 'copy goes on'])).stdout).toBe('Reply #4: copy goes on\n');
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two', 'three', 'copy goes on']);

    const refused = await run(['fork', 'src:1', 'copy:1']);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: INVALID_INPUT: .*copy:1/) });
    const replaced = await run(['fork', 'src:1', 'copy:1', '--at-turn', '2', '--replace', '--json']);
    expect(replaced.code).toBe(0);
    expect(json<Record<string, unknown>>(replaced)).toMatchObject({ key: 'copy:1', generation: 2, turns: 2 });
    expect((await run(['send', 'copy:1', 'from turn two'])).stdout).toBe('Reply #3: from turn two\n');
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two', 'from turn two']);
    // The source is untouched.
    expect((await run(['send', 'src:1', 'source goes on'])).stdout).toBe('Reply #4: source goes on\n');

    expect((await run(['fork', 'nobody:1', 'x:1'])).code).toBe(4);
    expect((await run(['fork', 'src:1', 'src:1'])).code).toBe(2);
    expect((await run(['fork', 'src:1', 'x:2', '--at-turn', '99'])).code).toBe(2);
    expect((await run(['fork', 'src:1', 'x:3', '--at-turn', 'two'])).code).toBe(2);
  });

  it('export -o writes a bundle that import continues under another key, from stdin, and in a fresh database', async () => {
    await run(['send', 'travel', 'pack the blue suitcase', '--label', 'user=ada', '--task-id', 'T-7']);
    await run(['send', 'travel', 'and the red one']);
    const file = join(dir, `bundle-${n}.json`);
    const written = await run(['export', 'travel', '-o', file]);
    expect(written).toEqual({ code: 0, stdout: `exported "travel" (2 turns, ${readFileSync(file).length} bytes) to ${file}\n`, stderr: '' });
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as { format: string; session: Record<string, unknown>; turns: unknown[] };
    expect(bundle).toMatchObject({ format: 'tether.session', session: { key: 'travel', labels: { user: 'ada' }, metadata: { taskId: 'T-7' } } });
    expect(bundle.turns).toHaveLength(2);
    // Without -o the bundle goes to stdout, one line.
    const printed = await run(['export', 'travel']);
    expect(JSON.parse(printed.stdout)).toMatchObject({ format: 'tether.session', session: { key: 'travel' } });

    expect(await run(['import', file, '--key', 'travel:2'])).toMatchObject({ code: 0, stdout: 'imported "travel:2" (2 turns)\n' });
    expect((await run(['send', 'travel:2', 'what did I pack?'])).stdout).toBe('Reply #3: what did I pack?\n');
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['pack the blue suitcase', 'and the red one', 'what did I pack?']);

    const piped = await run(['import', '-', '--key', 'travel:3', '--json'], { stdin: Readable.from([printed.stdout]) });
    expect(piped.code).toBe(0);
    expect(json<Record<string, unknown>>(piped)).toMatchObject({ key: 'travel:3', turns: 2, labels: { user: 'ada' }, metadata: { taskId: 'T-7' } });

    // The key exists: refused without --replace, replaced with it.
    const again = await run(['import', file]);
    expect(again).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: INVALID_INPUT: key "travel" already has a live session/) });
    expect(json<Record<string, unknown>>(await run(['import', file, '--replace', '--json']))).toMatchObject({ key: 'travel', generation: 2, turns: 2 });

    const fresh = join(dir, `fresh-${n}.db`);
    const elsewhere = await main(['--db', fresh, 'import', file], io().io);
    expect(elsewhere).toBe(0);
    const c = io();
    expect(await main(['--db', fresh, 'send', 'travel', 'and in the new place?'], c.io)).toBe(0);
    expect(c.out.join('')).toBe('Reply #3: and in the new place?\n');
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['pack the blue suitcase', 'and the red one', 'and in the new place?']);

    expect(await run(['export', 'nobody:1'])).toMatchObject({ code: 4, stderr: expect.stringMatching(/^error: NOT_FOUND: /) });
  });

  it('a corrupted or missing bundle file exits 2 and changes nothing', async () => {
    await run(['send', 'good', 'hello']);
    const file = join(dir, `good-${n}.json`);
    await run(['export', 'good', '-o', file]);
    const text = readFileSync(file, 'utf8');
    const good = JSON.parse(text) as Record<string, unknown>;
    const truncated = join(dir, `truncated-${n}.json`);
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    const wrongVersion = join(dir, `version-${n}.json`);
    writeFileSync(wrongVersion, JSON.stringify({ ...good, version: 99 }));
    const noTranscript = join(dir, `no-transcript-${n}.json`);
    writeFileSync(noTranscript, JSON.stringify({ ...good, transcript: undefined }));

    const before = (await run(['ls', '--json'])).stdout;
    const cases: Array<[string[], RegExp]> = [
      [['import', truncated, '--key', 'copy'], /^error: INVALID_INPUT: .* is not JSON/],
      [['import', wrongVersion, '--key', 'copy'], /^error: INVALID_INPUT: /],
      [['import', noTranscript, '--key', 'copy'], /^error: INVALID_INPUT: /],
      [['import', join(dir, 'missing.json'), '--key', 'copy'], /^error: INVALID_INPUT: cannot read /],
      [['import', file, '--key', 'bad\u0007key'], /^error: INVALID_INPUT: key/],
      [['import', file, '--key', 'copy', '--cwd', join(dir, 'missing')], /^error: INVALID_INPUT: --cwd .* does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect((await run(['ls', '--json'])).stdout).toBe(before);
    expect((await run(['show', 'copy'])).code).toBe(4);
  });

  it('regenerate runs the last prompt again from the point before it, printed like send', async () => {
    await run(['send', 'regen:1', 'one']);
    await run(['send', 'regen:1', 'two']);
    mock.enqueue({ text: 'another take on two' });
    expect(await run(['regenerate', 'regen:1'])).toEqual({ code: 0, stdout: 'another take on two\n', stderr: '' });
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two']);

    const streamed = await run(['regenerate', 'regen:1', '--json']);
    expect(streamed.code).toBe(0);
    const events = ndjson(streamed);
    expect(events[0]?.type).toBe('turn.queued');
    expect(events.at(-1)).toMatchObject({ type: 'turn.completed', key: 'regen:1', text: 'Reply #2: two' });

    // The conversation goes on from the regenerated reply; the replaced turns stay in the journal.
    expect((await run(['send', 'regen:1', 'three'])).stdout).toBe('Reply #3: three\n');
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two', 'three']);
    const turns = json<Array<{ prompt: string; status: string }>>(await run(['turns', 'regen:1', '--json']));
    expect(turns.map((t) => [t.prompt, t.status])).toEqual([
      ['one', 'succeeded'],
      ['two', 'succeeded'],
      ['two', 'succeeded'],
      ['two', 'succeeded'],
      ['three', 'succeeded'],
    ]);

    expect(await run(['regenerate', 'nobody:1'])).toMatchObject({ code: 4, stderr: expect.stringMatching(/^error: NOT_FOUND: /) });
    const missing = await run(['regenerate', 'nobody:1', '--json']);
    expect(ndjson(missing)).toEqual([expect.objectContaining({ type: 'turn.failed', key: 'nobody:1', error: expect.objectContaining({ code: 'NOT_FOUND' }) })]);
    expect((await run(['regenerate', 'bad\u0007key'])).code).toBe(2);
  });

  it('continue lets the agent go on without a new prompt, printed like send', async () => {
    await run(['send', 'cont:1', 'start a story']);
    mock.enqueue({ text: 'and then the dragon woke' });
    expect(await run(['continue', 'cont:1'])).toEqual({ code: 0, stdout: 'and then the dragon woke\n', stderr: '' });
    expect(mock.mainRequests().at(-1)?.userTexts).toEqual(['start a story', 'continue']);
    const turns = json<Array<{ prompt: string }>>(await run(['turns', 'cont:1', '--json']));
    expect(turns.map((t) => t.prompt)).toEqual(['start a story', 'continue']);
    expect(await run(['continue', 'nobody:2'])).toMatchObject({ code: 4, stderr: expect.stringMatching(/^error: NOT_FOUND: /) });
    expect((await run(['continue', 'cont:1', '--json'])).stdout.trim().split('\n').at(-1)).toMatch(/"type":"turn.completed"/);
  });

  it('SIGINT interrupts a regenerated turn and exits 130', async () => {
    await run(['send', 'regen:int', 'one']);
    mock.enqueue({ text: 'never seen', delayMs: 30_000 });
    const signals = new EventEmitter();
    const r = await run(['regenerate', 'regen:int', '--json'], { signals }, (s) => {
      if (s.includes('"turn.started"')) setTimeout(() => signals.emit('SIGINT'), 200);
    });
    expect(r.code).toBe(130);
    expect(ndjson(r).at(-1)).toMatchObject({ type: 'turn.failed', error: { code: 'INTERRUPTED' } });
    expect(r.stderr).toContain('interrupting');
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('--help lists every command, and each command has help of its own', async () => {
    const help = await run(['--help']);
    for (const command of ['send', 'regenerate', 'continue', 'ls', 'show', 'update', 'turns', 'reset', 'compact', 'fork', 'export', 'import', 'interrupt', 'rm', 'stats', 'gc', 'serve', 'mock-api']) {
      expect(help.stdout, command).toMatch(new RegExp(`^  ${command} `, 'm'));
      const own = await run([command, '--help']);
      expect(own.code, command).toBe(0);
      expect(own.stdout, command).toMatch(new RegExp(`^Usage: tether ${command} `));
    }
    const update = (await run(['update', '--help'])).stdout;
    for (const flag of ['--model', '--clear-model', '--permission-mode', '--clear-permission-mode', '--label', '--unlabel', '--meta', '--unmeta', '--json']) expect(update).toContain(flag);
    const send = (await run(['send', '--help'])).stdout;
    for (const flag of ['--meta', '--task-id', '--mcp-session-id']) expect(send).toContain(flag);
    expect((await run(['ls', '--help'])).stdout).toContain('--meta');
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
