import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';
import { startDaemon, type Daemon } from '../client/daemon.js';
import { isRunning } from '../helpers/processes.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tether wake` and `tether sleep`, embedded and against the daemon (real agent, mock API). */
describe('tether wake / sleep (real agent, mock API)', () => {
  let daemon: Daemon;
  let env: NodeJS.ProcessEnv;
  let embeddedDb: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    env = { ...daemon.fx.env, TETHER_CWD: daemon.fx.cwd, TETHER_LOG_LEVEL: 'silent', TETHER_JANITOR_INTERVAL: '0' };
    embeddedDb = join(daemon.fx.dir, 'embedded.db');
  });
  afterAll(async () => daemon?.stop());

  async function cli(args: string[]): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) }, env };
    const code = await main(args, io);
    return { code, stdout: out.join(''), stderr: err.join('') };
  }
  const client = (...args: string[]): Promise<Run> => cli(['--server', daemon.url, ...args]);
  const embedded = (...args: string[]): Promise<Run> => cli(['--db', embeddedDb, ...args]);

  it("against the daemon: sleep ends the session's process, wake starts it again, and the next turn runs warm", async () => {
    expect((await client('send', 'cli:1', 'one')).stdout).toBe('Reply #1: one\n');
    // Its turn left it warm in the daemon.
    const awake = await client('wake', 'cli:1', '--json');
    expect(awake.code).toBe(0);
    const { pid } = JSON.parse(awake.stdout) as { status: string; pid: number };
    expect(JSON.parse(awake.stdout)).toEqual({ status: 'awake', pid: expect.any(Number) });
    expect(await client('wake', 'cli:1')).toEqual({ code: 0, stdout: `"cli:1" is awake already (agent process ${pid})\n`, stderr: '' });

    expect(await client('sleep', 'cli:1')).toEqual({ code: 0, stdout: '"cli:1" is asleep: its agent process ended; the session stays\n', stderr: '' });
    expect(isRunning(pid)).toBe(false);
    expect(await client('sleep', 'cli:1', '--json')).toEqual({ code: 0, stdout: '{"slept":false}\n', stderr: '' });

    const woken = await client('wake', 'cli:1');
    expect(woken).toMatchObject({ code: 0, stderr: '' });
    const [, newPid] = /^woke "cli:1": agent process (\d+) is up; the next turn runs warm\n$/.exec(woken.stdout) ?? [];
    expect(isRunning(Number(newPid))).toBe(true);
    const turn = await client('send', 'cli:1', 'two', '--json');
    expect(turn.stdout).toContain('"runner":"warm"');
    expect(daemon.fx.mock.mainRequests().at(-1)?.userTexts).toEqual(['one', 'two']);
    expect(JSON.parse((await client('sleep', 'cli:1', '--json')).stdout)).toEqual({ slept: true });
  }, 120_000);

  it("embedded: the process is the command's own (woken, then ended with it), so sleep finds none; the exit codes are the contract's", async () => {
    expect((await embedded('send', 'emb:1', 'one')).code).toBe(0);
    const woken = await embedded('wake', 'emb:1', '--json');
    expect(woken.code).toBe(0);
    const { status, pid } = JSON.parse(woken.stdout) as { status: string; pid: number };
    expect(status).toBe('woken');
    expect(isRunning(pid)).toBe(false);
    expect(woken.stderr).toMatch(/^note: without --server the process was this command's own and ended with it/);
    expect(await embedded('sleep', 'emb:1')).toEqual({ code: 0, stdout: 'no idle agent process of "emb:1" runs here\n', stderr: '' });

    for (const run of [embedded, client]) {
      expect(await run('wake', 'nobody:1')).toEqual({ code: 4, stdout: '', stderr: 'error: NOT_FOUND: no session for key "nobody:1"\n' });
      expect(await run('sleep', 'nobody:1')).toEqual({ code: 4, stdout: '', stderr: 'error: NOT_FOUND: no session for key "nobody:1"\n' });
      expect((await run('wake', 'bad\u0007key')).code).toBe(2);
      expect((await run('sleep')).code).toBe(2);
    }
  }, 120_000);

  it('--help lists both commands', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/^ {2}wake /m);
    expect(help.stdout).toMatch(/^ {2}sleep /m);
    expect((await cli(['wake', '--help'])).stdout).toMatch(/^Usage: tether wake \[options\] <key>/);
    expect((await cli(['sleep', '--help'])).stdout).toContain('--json');
  });
});
