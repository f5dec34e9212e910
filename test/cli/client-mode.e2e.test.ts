import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SequencedEvent } from '../../src/broker/api.js';
import { main, type CliIO } from '../../src/cli/main.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { sessionToJSON } from '../../src/domain/json.js';
import { defaultMockReply } from '../../src/testing/mock-anthropic.js';
import { startCuttingProxy, startDaemon, type Daemon } from '../client/daemon.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/tether.js');
const built = existsSync(join(ROOT, 'dist/cli/main.js'));
const needsBuild = (title: string): string => (built ? title : `${title}: skipped, dist/cli/main.js is missing (npm test builds it first)`);

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;

/** What legitimately differs between two runs of one scenario: ids, times, durations, token counts. */
function normalize(text: string): string {
  return text
    .replace(UUID, '<id>')
    .replace(ISO, '<time>')
    .replace(/\b\d+(\.\d+)?(ms|s|m\d+s) ago\b/g, '<ago>')
    .replace(/\b\d+s ago\b/g, '<ago>')
    .replace(/"(inputTokens|outputTokens|cacheReadTokens|cacheWriteTokens|tokens|costUsd|ratio|durationMs|window)": ?[\d.e-]+/g, '"$1":<n>')
    .replace(/\b\d+(\.\d+)?(ms|s)\b/g, '<dur>')
    .replace(/in \d+ · out \d+ · cache read \d+ · cache write \d+( · \$[\d.]+)?/g, '<usage>')
    .replace(/\d+ \/ \d+ tokens \(\d+%\)/g, '<context>')
    .replace(/: \d+ -> \d+ context tokens/g, ': <n> -> <n> context tokens')
    .replace(/\b\d+%/g, '<pct>')
    // Column widths follow the values above.
    .replace(/ {2,}/g, '  ');
}

/** The CLI in client mode (`--server`) against the real daemon, compared with embedded mode. */
describe('tether CLI in client mode (daemon, real agent, mock API)', () => {
  let daemon: Daemon;
  let env: NodeJS.ProcessEnv;
  let embeddedDb: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    // The embedded runs use the same agent environment and mock, on a database of their own.
    env = { ...daemon.fx.env, TETHER_CWD: daemon.fx.cwd, TETHER_LOG_LEVEL: 'silent', TETHER_JANITOR_INTERVAL: '0' };
    embeddedDb = join(daemon.fx.dir, 'embedded.db');
  });
  afterEach(() => {
    daemon.fx.mock.setDefault(defaultMockReply);
    daemon.fx.mock.reset();
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  async function cli(args: string[], extra: Partial<CliIO> = {}, onStdout?: (s: string) => void): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = {
      stdout: {
        write: (s) => {
          out.push(s);
          onStdout?.(s);
        },
      },
      stderr: { write: (s) => void err.push(s) },
      env,
      ...extra,
    };
    const code = await main(args, io);
    return { code, stdout: out.join(''), stderr: err.join('') };
  }
  const client = (args: string[], extra: Partial<CliIO> = {}, onStdout?: (s: string) => void): Promise<Run> => cli(['--server', daemon.url, ...args], extra, onStdout);
  const embedded = (args: string[], extra: Partial<CliIO> = {}): Promise<Run> => cli(['--db', embeddedDb, ...args], extra);
  const ndjson = (r: Run): TetherEvent[] => r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as TetherEvent);

  it('every command gives the same output and exit code as in embedded mode', { timeout: 180_000 }, async () => {
    const scenario: Array<{ args: string[]; stdin?: string; code?: number }> = [
      { args: ['send', 'cmp:1', 'hello', 'there'] },
      { args: ['send', 'cmp:1', '-'], stdin: 'and again\n' },
      { args: ['send', 'cmp:json', 'stream', 'me', '--json'] },
      { args: ['send', 'slack:T01/C02', 'hi', '--label', 'team=a', '--label', 'env=test', '--max-turns', '3', '--append-system-prompt', 'be brief'] },
      { args: ['show', 'slack:T01/C02', '--json'] },
      { args: ['show', 'slack:T01/C02'] },
      { args: ['ls', '--json', '--label', 'team=a'] },
      { args: ['ls', '--json', '--label', 'team=b'] },
      { args: ['ls', '--json', '--status', 'closed'] },
      { args: ['ls', '--limit', '1', '--json'] },
      { args: ['ls'] },
      { args: ['turns', 'cmp:1', '--json'] },
      { args: ['turns', 'cmp:1'] },
      { args: ['turns', 'cmp:1', '--limit', '1'] },
      { args: ['reset', 'cmp:1'] },
      { args: ['show', 'cmp:1', '--json'] },
      { args: ['send', 'cmp:1', 'three'] },
      { args: ['rm', 'cmp:json'] },
      { args: ['show', 'cmp:json'] },
      { args: ['rm', 'cmp:json'] },
      { args: ['reset', 'cmp:json'] },
      { args: ['turns', 'cmp:json'] },
      // Session operations.
      // (send --meta, --task-id and --mcp-session-id are compared in a test of their own below.)
      { args: ['send', 'ops:1', 'alpha', '--label', 'team=ops'], code: 0 },
      { args: ['send', 'ops:1', 'beta'], code: 0 },
      { args: ['update', 'ops:1', '--meta', 'owner=ann', '--meta', 'n=5'], code: 0 },
      { args: ['update', 'ops:1', '--model', 'claude-haiku-5-5', '--permission-mode', 'plan', '--label', 'tier=gold', '--unlabel', 'team', '--meta', 'owner=bob', '--unmeta', 'n'], code: 0 },
      { args: ['show', 'ops:1'], code: 0 },
      { args: ['ls', '--json', '--meta', 'owner=bob'], code: 0 },
      { args: ['ls', '--json', '--meta', 'owner=ann'], code: 0 },
      { args: ['ls', '--meta', 'owner'], code: 2 },
      { args: ['ls', '--meta', 'a=1', '--meta', 'a=2'], code: 2 },
      { args: ['update', 'ops:1', '--clear-model', '--clear-permission-mode', '--json'], code: 0 },
      { args: ['ls', '--json', '--meta', 'owner=bob', '--label', 'tier=gold'], code: 0 },
      { args: ['update', 'ops:1'], code: 2 },
      { args: ['update', 'nobody:1', '--model', 'm'], code: 4 },
      { args: ['update', 'ops:1', '--model', 'm', '--clear-model'], code: 2 },
      { args: ['update', 'ops:1', '--label', 'a=1', '--unlabel', 'a'], code: 2 },
      { args: ['fork', 'ops:1', 'ops:fork'], code: 0 },
      { args: ['send', 'ops:fork', 'gamma'], code: 0 },
      { args: ['fork', 'ops:1', 'ops:fork'], code: 2 },
      { args: ['fork', 'ops:1', 'ops:fork', '--at-turn', '1', '--replace', '--json'], code: 0 },
      { args: ['send', 'ops:fork', 'delta'], code: 0 },
      { args: ['fork', 'nobody:1', 'x:1'], code: 4 },
      { args: ['fork', 'ops:1', 'ops:1'], code: 2 },
      { args: ['fork', 'ops:1', 'x:2', '--at-turn', '99'], code: 2 },
      { args: ['interrupt', 'ops:1', '--json'], code: 0 },
      { args: ['interrupt', 'ops:1'], code: 0 },
      { args: ['interrupt', 'nobody:1'], code: 4 },
      { args: ['compact', 'ops:1'], code: 0 },
      { args: ['compact', 'nobody:1'], code: 4 },
      { args: ['send', 'ops:1', 'after compact'], code: 0 },
      { args: ['send', 'regen:1', 'one'], code: 0 },
      { args: ['send', 'regen:1', 'two'], code: 0 },
      { args: ['regenerate', 'regen:1'], code: 0 },
      { args: ['regenerate', 'regen:1', '--json'], code: 0 },
      { args: ['send', 'regen:1', 'three'], code: 0 },
      { args: ['turns', 'regen:1'], code: 0 },
      { args: ['regenerate', 'nobody:1'], code: 4 },
      { args: ['regenerate', 'nobody:1', '--json'], code: 4 },
      { args: ['export', 'nobody:1'], code: 4 },
      { args: ['import', join(daemon.fx.dir, 'missing.json')], code: 2 },
      { args: ['send', 'bad\u0007key', 'hi'] },
      { args: ['show', '\u0000'] },
      { args: ['send', 'k', '   '] },
      { args: ['send', 'k', 'hi', '--label', 'no-equals'] },
      { args: ['send', 'k', 'x', '--permission-mode', 'yolo'] },
      { args: ['ls', '--bogus'] },
    ];
    for (const step of scenario) {
      const extra = (): Partial<CliIO> => (step.stdin === undefined ? {} : { stdin: Readable.from([step.stdin]) });
      const local = await embedded(step.args, extra());
      const remote = await client(step.args, extra());
      const what = step.args.join(' ');
      expect({ code: remote.code, stderr: remote.stderr }, what).toEqual({ code: local.code, stderr: local.stderr });
      expect(normalize(remote.stdout), what).toBe(normalize(local.stdout));
      // Agreeing is not enough where the step's outcome is known.
      if (step.code !== undefined) expect(local.code, `${what}: ${local.stderr}`).toBe(step.code);
    }
    // Spot checks that the comparison compared something real.
    const shown = JSON.parse((await client(['show', 'slack:T01/C02', '--json'])).stdout) as unknown;
    const truth = await daemon.tether.get('slack:T01/C02');
    expect(shown).toEqual(truth && sessionToJSON(truth));
    expect((await client(['send', 'cmp:1', 'four'])).stdout).toBe('Reply #2: four\n');
    expect((await client(['show', 'cmp:json'])).stderr).toBe('error: NOT_FOUND: no session for key "cmp:json"\n');
    expect(JSON.parse((await client(['show', 'ops:1', '--json'])).stdout)).toMatchObject({
      config: { model: null, permissionMode: null },
      labels: { tier: 'gold' },
      metadata: { owner: 'bob' },
    });
    const keys = async (...filter: string[]): Promise<string[]> => (JSON.parse((await client(['ls', '--json', ...filter])).stdout) as Array<{ key: string }>).map((s) => s.key);
    // A fork carries the labels and metadata of its source.
    expect((await keys('--meta', 'owner=bob', '--label', 'tier=gold')).sort()).toEqual(['ops:1', 'ops:fork']);
    expect(await keys('--meta', 'owner=ann')).toEqual([]);
    expect((await client(['interrupt', 'ops:1'])).stdout).toBe('no turn of "ops:1" is running\n');
    // The regenerated turn ran from the point before "two": "three" is the third prompt, not the fourth.
    expect((await client(['send', 'regen:1', 'four'])).stdout).toBe('Reply #4: four\n');
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two', 'three', 'four']);
  });

  it('send --meta, --task-id and --mcp-session-id reach the daemon: show and ls --meta agree with embedded mode', async () => {
    const steps: string[][] = [
      ['send', 'meta:1', 'alpha', '--meta', 'owner=ann', '--meta', 'n=5', '--task-id', 'T-1', '--mcp-session-id', 'M-1'],
      // Metadata of a new session only, like labels: a later send leaves it as it is.
      ['send', 'meta:1', 'beta', '--task-id', 'T-ignored'],
      ['show', 'meta:1'],
      ['show', 'meta:1', '--json'],
      ['ls', '--json', '--meta', 'taskId=T-1'],
      ['ls', '--json', '--meta', 'n=5', '--meta', 'owner=ann', '--meta', 'mcpSessionId=M-1'],
      ['ls', '--json', '--meta', 'taskId=T-ignored'],
      ['send', 'meta:2', 'hi', '--task-id', ''],
    ];
    for (const args of steps) {
      const local = await embedded(args);
      const remote = await client(args);
      const what = args.join(' ');
      expect({ code: remote.code, stderr: remote.stderr }, what).toEqual({ code: local.code, stderr: local.stderr });
      expect(normalize(remote.stdout), what).toBe(normalize(local.stdout));
    }
    expect((await daemon.tether.get('meta:1'))?.metadata).toEqual({ owner: 'ann', n: '5', taskId: 'T-1', mcpSessionId: 'M-1' });
    expect((JSON.parse((await client(['ls', '--json', '--meta', 'taskId=T-1'])).stdout) as Array<{ key: string }>).map((s) => s.key)).toEqual(['meta:1']);
  });

  it('export -o from the daemon; import under another key there, and into a fresh --db: the conversation continues', async () => {
    await client(['send', 'exp:1', 'pack the blue suitcase', '--label', 'user=ada']);
    await client(['send', 'exp:1', 'and the red one']);
    await client(['update', 'exp:1', '--meta', 'taskId=T-7']);
    const file = join(daemon.fx.dir, 'exp-1.json');
    const written = await client(['export', 'exp:1', '-o', file]);
    const text = readFileSync(file, 'utf8');
    expect(written).toEqual({ code: 0, stdout: `exported "exp:1" (2 turns, ${Buffer.byteLength(text)} bytes) to ${file}\n`, stderr: '' });
    expect(JSON.parse(text)).toMatchObject({ format: 'tether.session', session: { key: 'exp:1', labels: { user: 'ada' }, metadata: { taskId: 'T-7' } }, turns: [{}, {}] });

    expect(await client(['import', file, '--key', 'exp:2'])).toEqual({ code: 0, stdout: 'imported "exp:2" (2 turns)\n', stderr: '' });
    expect((await client(['send', 'exp:2', 'what did I pack?'])).stdout).toBe('Reply #3: what did I pack?\n');
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['pack the blue suitcase', 'and the red one', 'what did I pack?']);
    // Piped, as `tether export k | tether import - --key k2` would.
    const piped = await client(['import', '-', '--key', 'exp:3', '--json'], { stdin: Readable.from([text]) });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ key: 'exp:3', turns: 2, labels: { user: 'ada' }, metadata: { taskId: 'T-7' } });

    const fresh = join(daemon.fx.dir, 'fresh.db');
    expect(await cli(['--db', fresh, 'import', file])).toEqual({ code: 0, stdout: 'imported "exp:1" (2 turns)\n', stderr: '' });
    expect((await cli(['--db', fresh, 'send', 'exp:1', 'and here?'])).stdout).toBe('Reply #3: and here?\n');
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['pack the blue suitcase', 'and the red one', 'and here?']);

    // The key is live on the daemon: refused without --replace, in both modes alike.
    const refused = await client(['import', file]);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toMatch(/^error: INVALID_INPUT: key "exp:1" already has a live session/);
    expect(await cli(['--db', fresh, 'import', file])).toEqual(refused);
    expect(JSON.parse((await client(['import', file, '--replace', '--json'])).stdout)).toMatchObject({ key: 'exp:1', generation: 2, turns: 2 });
  });

  it('a corrupted bundle file exits 2 and changes nothing, in both modes', async () => {
    await client(['send', 'good:1', 'hello']);
    const file = join(daemon.fx.dir, 'good-1.json');
    await client(['export', 'good:1', '-o', file]);
    const text = readFileSync(file, 'utf8');
    const truncated = join(daemon.fx.dir, 'truncated.json');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    const wrongVersion = join(daemon.fx.dir, 'wrong-version.json');
    writeFileSync(wrongVersion, JSON.stringify({ ...(JSON.parse(text) as object), version: 99 }));

    const before = await daemon.tether.list();
    for (const bad of [truncated, wrongVersion]) {
      const remote = await client(['import', bad, '--key', 'good:copy']);
      expect(remote.code, bad).toBe(2);
      expect(remote.stderr, bad).toMatch(/^error: INVALID_INPUT: /);
      expect(await embedded(['import', bad, '--key', 'good:copy']), bad).toEqual(remote);
    }
    expect(await daemon.tether.list()).toEqual(before);
    expect((await client(['show', 'good:copy'])).code).toBe(4);
    expect((await embedded(['show', 'good:copy'])).code).toBe(4);
  });

  it('TETHER_URL selects client mode like --server, and continues the conversation', async () => {
    const withUrl = { env: { ...env, TETHER_URL: daemon.url } };
    expect(await cli(['send', 'env:1', 'first'], withUrl)).toMatchObject({ code: 0, stdout: 'Reply #1: first\n' });
    expect(await cli(['send', 'env:1', 'second'], withUrl)).toMatchObject({ code: 0, stdout: 'Reply #2: second\n' });
    expect(await daemon.tether.get('env:1')).toMatchObject({ turns: 2 });
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['first', 'second']);
  });

  it('--reject-if-busy exits 3 while the daemon runs a turn of the key', async () => {
    daemon.fx.mock.enqueue({ text: 'slow answer', delayMs: 1_500 });
    const slow = daemon.tether.send('busy:1', 'slow');
    await slow.accepted;
    const busy = await client(['send', 'busy:1', 'impatient', '--reject-if-busy', '--json']);
    expect(busy.code).toBe(3);
    expect(busy.stderr).toMatch(/^error: SESSION_BUSY: /);
    expect(ndjson(busy)).toEqual([expect.objectContaining({ type: 'turn.failed', key: 'busy:1', turnId: '', error: expect.objectContaining({ code: 'SESSION_BUSY' }) })]);
    expect((await slow.result).text).toBe('slow answer');
  });

  it('a failed turn ends the NDJSON with turn.failed and exits 1', async () => {
    daemon.fx.mock.setDefault(() => ({ fault: { kind: 'status', status: 400, message: 'mock refuses' } }));
    const r = await client(['send', 'fail:1', 'doomed', '--json']);
    expect(r.code).toBe(1);
    expect(ndjson(r).at(-1)).toMatchObject({ type: 'turn.failed', key: 'fail:1', error: { code: 'AGENT_FAILED' } });
    expect(r.stderr).toMatch(/^error: AGENT_FAILED: /);
  });

  it('SIGINT interrupts the turn on the daemon and exits 130', async () => {
    daemon.fx.mock.enqueue({ text: 'never seen', delayMs: 30_000 });
    const signals = new EventEmitter();
    const r = await client(['send', 'int:1', 'long job', '--json'], { signals }, (s) => {
      if (s.includes('"turn.started"')) setTimeout(() => signals.emit('SIGINT'), 200);
    });
    expect(r.code).toBe(130);
    expect(ndjson(r).at(-1)).toMatchObject({ type: 'turn.failed', error: { code: 'INTERRUPTED' } });
    expect(r.stderr).toContain('interrupting');
    const turns = JSON.parse((await client(['turns', 'int:1', '--json'])).stdout) as Array<{ status: string }>;
    expect(turns.map((t) => t.status)).toEqual(['interrupted']);
  });

  it('a stream cut mid-turn resumes: every event printed once, the reply whole', async () => {
    daemon.fx.mock.enqueue({ text: 'resumed reply', delayMs: 800 });
    const proxy = await startCuttingProxy(daemon.url, (head, index) => (index === 0 && head.startsWith('POST') ? '"type":"turn.started"' : null));
    try {
      const r = await cli(['--server', proxy.url, 'send', 'cut:1', 'go', '--json']);
      expect(r.code).toBe(0);
      const events = ndjson(r);
      const turnId = events[0]?.type === 'turn.queued' ? events[0].turnId : '';
      const truth: SequencedEvent[] = [];
      for await (const e of daemon.tether.turnEvents(turnId)) truth.push(e);
      expect(events).toEqual(truth.map((e) => e.event));
      expect(events.at(-1)).toMatchObject({ type: 'turn.completed', text: 'resumed reply' });
      expect(proxy.requests.some((h) => h.startsWith(`GET /v1/turns/${turnId}/events`))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('stats work against the daemon; gc is refused with the reason (exit 2)', async () => {
    await client(['send', 'stats:1', 'count me']);
    const stats = await client(['stats', '--json']);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ tenant: 'default', turns: { succeeded: expect.any(Number) } });
    expect((await client(['stats'])).stdout).toMatch(/^tenant:\s+default$/m);
    const gc = await client(['gc']);
    expect(gc.code).toBe(2);
    expect(gc.stderr).toBe("error: INVALID_INPUT: gc runs inside the daemon (its janitor sweeps on a timer); run `tether gc` on the daemon's host, without --server\n");
  });

  it('contradictory global options exit 2 before anything is opened or sent', async () => {
    const db = join(daemon.fx.dir, 'never.db');
    const requestsBefore = daemon.fx.mock.requests.length;
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [['--server', daemon.url, '--db', db, 'ls'], env, 'error: INVALID_INPUT: --db and --server cannot be combined\n'],
      [['--db', db, 'ls'], { ...env, TETHER_URL: daemon.url }, 'error: INVALID_INPUT: --db and TETHER_URL cannot be combined; unset TETHER_URL to use a local database\n'],
      [['--server', daemon.url, '--tenant', 'acme', 'ls'], env, 'error: INVALID_INPUT: --tenant cannot be combined with --server: the daemon takes the tenant from the token (--token or TETHER_TOKEN)\n'],
      [['--db', db, '--token', 'x', 'ls'], env, 'error: INVALID_INPUT: --token needs --server (or TETHER_URL): the embedded store has no tokens\n'],
      [['--server', 'localhost:7420', 'ls'], env, 'error: INVALID_INPUT: the server URL "localhost:7420" must start with http:// or https://\n'],
    ];
    for (const [args, e, stderr] of cases) {
      expect(await cli(args, { env: e }), args.join(' ')).toEqual({ code: 2, stdout: '', stderr });
    }
    expect(existsSync(db)).toBe(false);
    expect(daemon.fx.mock.requests.length).toBe(requestsBefore);
  });

  it('--cwd is resolved here and checked by the daemon, on its host', async () => {
    const missing = await client(['send', 'cwd:1', 'hi', '--cwd', join(daemon.fx.dir, 'missing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`error: INVALID_INPUT: cwd ${join(daemon.fx.dir, 'missing')} does not exist\n`);
    const outside = await client(['send', 'cwd:1', 'hi', '--cwd', '/']);
    expect(outside).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: FORBIDDEN: cwd \/ is outside/) });
    expect(await client(['send', 'cwd:1', 'hi', '--cwd', daemon.fx.home])).toMatchObject({ code: 0, stdout: 'Reply #1: hi\n' });
    expect(await daemon.tether.get('cwd:1')).toMatchObject({ config: { cwd: daemon.fx.home } });
  });

  // The built binary, as users run it: the process must end as soon as the command is done.
  it.skipIf(!built)(needsBuild('the built binary talks to the daemon and exits promptly'), async () => {
    const run = (args: string[]) => exitAfterOutput(BIN, args, { ...env, TETHER_URL: daemon.url });
    const sent = await run(['send', 'bin:1', 'from', 'a', 'process']);
    expect(sent.stdout).toBe('Reply #1: from a process\n');
    const listed = await run(['ls', '--json']);
    expect((JSON.parse(listed.stdout) as Array<{ key: string }>).map((s) => s.key)).toContain('bin:1');
    // Measured from its output being complete to its exit, so an agent's cold start on a busy
    // machine does not count: an open socket or timer (undici's idle keep-alive) would add 4 s.
    expect(Math.max(sent.lingeredMs, listed.lingeredMs)).toBeLessThan(3_000);
  });

  it('a daemon that cannot be reached is one clear line, exit 1', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const r = await cli(['--server', url, 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: DAEMON_UNREACHABLE: cannot reach the Tether daemon at ${url}: connect ECONNREFUSED ${url.slice('http://'.length)}\n`);
    const send = await cli(['--server', url, 'send', 'k', 'hi', '--json']);
    expect(send.code).toBe(1);
    expect(ndjson(send)).toEqual([expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'DAEMON_UNREACHABLE' }) })]);
  });
});

describe('tether CLI in client mode against a daemon with tokens', () => {
  let daemon: Daemon;
  const TOKEN = 'token-of-acme-0123456789';

  beforeAll(async () => {
    daemon = await startDaemon({ tokens: `${TOKEN}=acme` });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) }, env });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  it('no token or a wrong one is UNAUTHORIZED (exit 2); --token or TETHER_TOKEN gets the token\'s tenant', async () => {
    expect(await cli(['--server', daemon.url, 'ls'])).toEqual({ code: 2, stdout: '', stderr: 'error: UNAUTHORIZED: this API needs Authorization: Bearer <token>\n' });
    expect(await cli(['--server', daemon.url, '--token', 'wrong-token-0123456789', 'send', 'k', 'hi'])).toMatchObject({ code: 2, stderr: 'error: UNAUTHORIZED: the token is not valid\n' });
    expect(await cli(['--server', daemon.url, '--token', TOKEN, 'send', 'acme:1', 'hello'])).toMatchObject({ code: 0, stdout: 'Reply #1: hello\n' });
    const shown = await cli(['show', 'acme:1', '--json'], { TETHER_URL: daemon.url, TETHER_TOKEN: TOKEN });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ key: 'acme:1', tenant: 'acme', turns: 1 });
    // --token wins over TETHER_TOKEN.
    expect((await cli(['--token', 'wrong-token-0123456789', 'ls'], { TETHER_URL: daemon.url, TETHER_TOKEN: TOKEN })).code).toBe(2);
  });
});

/** Runs the CLI to its exit; `lingeredMs` is how long the process ran on after its last output. */
function exitAfterOutput(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; lingeredMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stdout = '';
    let lastOutputAt = performance.now();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      lastOutputAt = performance.now();
    });
    child.once('error', reject);
    // 'close': exited, and every byte of its output read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`tether ${args.join(' ')} ended with ${signal ?? code}: ${stdout}`));
      else resolve({ stdout, lingeredMs: performance.now() - lastOutputAt });
    });
  });
}
