import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning, listeningUrl } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { BIN, BUILT } from '../helpers/cli-fixture.js';

const run = promisify(execFile);

/** `tether send --backend codex` from the command line: one Codex thread across processes, and a kill -9 mid-turn. */
describe.runIf(BUILT)('Codex from the CLI (built binary, real codex)', () => {
  let fx: AgentFixture;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await fx.cleanup();
  });

  const env = () => ({ ...fx.env, TETHER_LOG_LEVEL: 'silent', TETHER_CWD: fx.cwd, TETHER_JANITOR_INTERVAL: '0', TETHER_SPARES: '0' });
  const tether = async (...args: string[]): Promise<string> => (await run(process.execPath, [BIN, '--db', fx.dbPath, ...args], { cwd: fx.cwd, env: env() })).stdout;
  const texts = () => fx.responses.requests.at(-1)!.userTexts;

  it('three CLI processes continue one Codex thread', async () => {
    expect(await tether('send', 'cx', 'one', '--backend', 'codex')).toBe('Reply #1: one\n');
    expect(await tether('send', 'cx', 'two')).toBe('Reply #2: two\n');
    expect(await tether('send', 'cx', 'three')).toBe('Reply #3: three\n');
    expect(texts()).toEqual(['one', 'two', 'three']);
    const shown = JSON.parse(await tether('show', 'cx', '--json')) as { backend: string; turns: number; agentSessionId: string };
    expect(shown).toMatchObject({ backend: 'codex', turns: 3 });
    const refused = await tether('send', 'cx', 'four', '--backend', 'claude').catch((err: { code: number; stderr: string }) => err);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('runs on codex') });
  }, 120_000);

  it('kill -9 mid-turn: the turn ends interrupted, no app-server is left, the thread goes on', async () => {
    await tether('send', 'cx', 'remember 7', '--backend', 'codex');
    fx.responses.enqueue({ text: 'never finished', delayMs: 60_000 });
    const runner = spawn(process.execPath, [BIN, '--db', fx.dbPath, 'send', 'cx', 'long task'], { cwd: fx.cwd, env: env(), stdio: 'ignore' });
    children.push(runner);
    // Long: a CLI, then its app-server, then its first request, on a busy machine.
    await waitFor(() => fx.responses.requests.length === 2, 60_000, 25);
    const servers = agentChildren(runner.pid!, 'codex');
    expect(servers).toHaveLength(1);
    runner.kill('SIGKILL');
    // The app-server dies with the process that started it.
    await waitFor(() => servers.every((pid) => !isRunning(pid)), 10_000, 25);

    fx.responses.reset();
    expect(await tether('send', 'cx', 'still there?')).toMatch(/still there\?\n$/);
    // The interrupted prompt reached Codex's rollout before the crash; the thread carries it.
    expect(texts()).toEqual(['remember 7', 'long task', 'still there?']);
    const turns = JSON.parse(await tether('turns', 'cx', '--json')) as Array<{ prompt: string; status: string }>;
    expect(turns.map((t) => [t.prompt, t.status])).toEqual([
      ['remember 7', 'succeeded'],
      ['long task', 'interrupted'],
      ['still there?', 'succeeded'],
    ]);
  }, 120_000);

  it('`serve --mock` answers Codex offline too: options.backend over HTTP', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--mock', '--port', '0'], {
      cwd: fx.cwd,
      env: { PATH: process.env.PATH, HOME: fx.home, TETHER_DB: join(fx.dir, 'served.db'), TETHER_CWD: fx.cwd, TETHER_LOG_LEVEL: 'silent', TETHER_SPARES: '0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    const url = await listeningUrl(child);
    const post = async (prompt: string, options?: object) =>
      (await fetch(`${url}/v1/sessions/web%3A1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, ...(options ? { options } : {}) }) })).json() as Promise<Record<string, unknown>>;
    expect(await post('hello codex', { backend: 'codex' })).toMatchObject({ type: 'turn.completed', text: 'Reply #1: hello codex' });
    expect(await post('again')).toMatchObject({ type: 'turn.completed', text: 'Reply #2: again' });
    expect(await post('no', { backend: 'claude' })).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    const session = (await (await fetch(`${url}/v1/sessions/web%3A1`)).json()) as { backend: string };
    expect(session.backend).toBe('codex');
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }, 120_000);
});
