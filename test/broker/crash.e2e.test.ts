import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning } from '../helpers/processes.js';
import { BIN, BUILT } from '../helpers/cli-fixture.js';


/**
 * Waits for a condition. The default is long because most waits here are for processes to come
 * up (a CLI, then its agent, then the agent's first request): that is seconds of CPU, and on a
 * busy two-core machine it took 5–13 s at a load of 8–13 and more than 15 s at a load of 20. A
 * generous deadline only delays the report of a real failure; it cannot hide one.
 */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await expect.poll(check, { timeout: timeoutMs, interval: 25 }).toBe(true);
}

describe.runIf(BUILT)('kill -9 of Tether mid-turn, then restart (built binary, real agent)', () => {
  let fx: AgentFixture;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await fx.cleanup();
  });

  const cli = (...args: string[]): ChildProcess => {
    const child = spawn(process.execPath, [BIN, '--db', fx.dbPath, ...args], {
      cwd: fx.cwd,
      env: { ...fx.env, TETHER_LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  };

  it('journals the running turn interrupted, runs the accepted one, frees the lease, and leaves no agent behind', async () => {
    const tether = await fx.open();
    await tether.send('crash:9', 'remember 7').result;
    await tether.close();

    fx.mock.enqueue({ text: 'never finished', delayMs: 60_000 });
    const runner = cli('send', 'crash:9', 'long task');
    await until(() => fx.mock.mainRequests().length === 2);
    const agents = agentChildren(runner.pid!);
    expect(agents).toHaveLength(1);
    const waiter = cli('send', 'crash:9', 'queued behind it');
    const probe = await fx.open();
    await until(async () => (await probe.peek('crash:9')).queued === 1);
    await probe.close();

    runner.kill('SIGKILL');
    waiter.kill('SIGKILL');
    // The agent of the dead process goes too (it exits when its stdin closes).
    await until(() => agents.every((pid) => !isRunning(pid)), 10_000);

    fx.mock.reset();
    const restarted = await fx.open();
    const turns = await restarted.turns('crash:9');
    const accepted = turns.find((t) => t.prompt === 'queued behind it')!;
    for await (const { event } of restarted.turnEvents(accepted.id)) if (event.type === 'turn.completed' || event.type === 'turn.failed') break;

    const after = await restarted.turns('crash:9');
    expect(after.map((t) => [t.prompt, t.status])).toEqual([
      ['remember 7', 'succeeded'],
      ['long task', 'interrupted'],
      ['queued behind it', 'succeeded'],
    ]);
    // The interrupted prompt had reached the agent (it is in the transcript); the accepted one follows it.
    expect(after[2]!.text).toBe('Reply #3: queued behind it');
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['remember 7', 'long task', 'queued behind it']);
    expect(await restarted.peek('crash:9')).toMatchObject({ busy: false, queued: 0 });
    expect((await restarted.send('crash:9', 'still there?').result).text).toBe('Reply #4: still there?');
  }, 180_000);

  it('reaps a tool process the dead Tether\'s agent left behind, at the next start', async () => {
    const marker = `tether_marker_${Math.floor(Math.random() * 1e9)}`;
    fx.mock.enqueue({ toolUse: { name: 'Bash', input: { command: `python3 -c 'import time; time.sleep(600)' ${marker}`, description: 'wait' } } });
    // A Tether in its own process whose agent runs a long tool (the CLI has no --allowed-tools).
    const script = join(fx.dir, 'victim.mjs');
    writeFileSync(
      script,
      `import { createTether } from ${JSON.stringify(join(import.meta.dirname, '../../dist/index.js'))};
       const t = await createTether({ db: ${JSON.stringify(fx.dbPath)}, logLevel: 'silent', spares: 0, defaultCwd: ${JSON.stringify(fx.cwd)} });
       t.send('reap:1', 'run the tool', { allowedTools: ['Bash'] });`,
    );
    const victim = spawn(process.execPath, [script], { env: fx.env, stdio: 'ignore' });
    children.push(victim);
    const toolPids = (): number[] => {
      try {
        return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    await until(() => toolPids().length > 0);
    const agents = agentChildren(victim.pid!);
    expect(agents).toHaveLength(1);
    victim.kill('SIGKILL');
    await until(() => agents.every((pid) => !isRunning(pid)), 10_000);
    // The agent died with its parent; the tool it started did not (it runs in its own session),
    // so only reaping ends it. Any Tether starting on the host may reap it from here on (another
    // test file's start-up janitor too, running the same code), so its survival up to here is not
    // asserted: a CI run caught exactly that race.

    const restarted = await fx.open();
    expect(toolPids()).toEqual([]);
    expect((await restarted.turns('reap:1'))[0]).toMatchObject({ status: 'interrupted' });
  }, 180_000);
});
