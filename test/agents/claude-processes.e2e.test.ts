import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Runner, RunnerSpec } from '../../src/agents/agent.js';
import { createClaudeBackend } from '../../src/agents/claude/index.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning } from '../helpers/processes.js';

/**
 * The runner pool frees a slot when a runner's or a spare's `close()` resolves, so `close()`
 * must resolve only once the agent process has exited, however it is called: otherwise the pool
 * starts another agent while this one still runs, and `maxLive` is exceeded.
 */
describe('Claude agent processes end before close() resolves (real agent)', () => {
  let fx: AgentFixture;
  const stopped: number[] = [];
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await fx.cleanup();
  });

  const spec = (): RunnerSpec => ({ config: { cwd: fx.cwd }, resume: null, env: fx.env });

  async function runTurn(runner: Runner, prompt: string): Promise<void> {
    for await (const event of runner.run(prompt, new AbortController().signal)) if (event.type === 'result') expect(event.ok).toBe(true);
  }

  it('a second close() of a runner waits for the exit the first one started', async () => {
    const runner = createClaudeBackend().open(spec());
    await runTurn(runner, 'hi');
    const pid = runner.pid!;
    // A stopped process ends only when the grace period runs out and it is SIGKILLed.
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    const first = runner.close();
    await runner.close();
    expect(isRunning(pid)).toBe(false);
    await first;
  });

  it('a runner on a claimed spare that never ran a turn ends the spare when closed', async () => {
    const backend = createClaudeBackend();
    const spare = await backend.prewarm!(fx.env);
    const pid = spare.pid!;
    expect(agentChildren()).toEqual([pid]);
    const runner = spare.claim(spec())!;
    expect(runner).not.toBeNull();
    // What a turn interrupted between taking its runner and starting it does.
    await runner.close();
    expect(isRunning(pid)).toBe(false);
    expect(agentChildren()).toEqual([]);
  });
});
