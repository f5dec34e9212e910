import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { nextRequest } from '../helpers/approvals.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Codex's approval requests as Tether approvals, with the real Codex binary: its command
 * approvals are asked about as `Bash` calls, decided by a person, a rule, or a parked turn's
 * resumption, like Claude's.
 */
describe('Codex approvals (real codex app-server)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const ask = { backend: 'codex' as const, approvals: 'ask' as const };
  /** The model asks Codex to run `cmd`, then says `reply`. */
  const runs = (cmd: string, reply: string) => fx.responses.enqueue({ functionCall: { name: 'exec_command', arguments: { cmd } } }, { text: reply });
  const lastOutput = () => fx.responses.requests.at(-1)!.functionOutputs.at(-1)?.output ?? '';

  it('allow runs the command; deny does not, and the model hears it was refused', async () => {
    const tether = await fx.open();
    runs('touch allowed.txt', 'Made it.');
    const asked = nextRequest(tether);
    const handle = tether.send('cx', 'make a file', ask);
    const request = await asked;
    expect(request).toMatchObject({ tool: 'Bash', kind: 'tool', status: 'pending', input: { command: 'touch allowed.txt' } });
    await tether.decide(request.id, { decision: 'allow' });
    expect((await handle.result).text).toBe('Made it.');
    expect(existsSync(join(fx.cwd, 'allowed.txt'))).toBe(true);
    expect(lastOutput()).toContain('exited with code 0');

    runs('touch denied.txt', 'Could not.');
    const asked2 = nextRequest(tether);
    const second = tether.send('cx', 'make another');
    await tether.decide((await asked2).id, { decision: 'deny', message: 'not that one' });
    expect((await second.result).text).toBe('Could not.');
    expect(existsSync(join(fx.cwd, 'denied.txt'))).toBe(false);
    expect((await tether.approvals({ key: 'cx' })).map((a) => a.status).sort()).toEqual(['allowed', 'denied']);
  });

  it('approvalRules in Claude Code syntax decide Codex commands without a person', async () => {
    const tether = await fx.open();
    runs('touch ruled.txt', 'Done by rule.');
    const result = await tether.send('cx', 'make a file', { ...ask, approvalRules: { allow: ['Bash(touch:*)'] } }).result;
    expect(result.text).toBe('Done by rule.');
    expect(existsSync(join(fx.cwd, 'ruled.txt'))).toBe(true);
    expect(await tether.approvals({ key: 'cx' })).toMatchObject([{ status: 'allowed', decidedBy: expect.stringContaining('rule') }]);
  });

  it('a turn that waits past approvalParkSec gives its process back, and goes on once decided', async () => {
    const tether = await fx.open({ approvalParkSec: 1 });
    // Asked, parked; told the decision, the model makes the call again, which runs without a second question.
    const call = { functionCall: { name: 'exec_command', arguments: { cmd: 'touch parked.txt' } } };
    fx.responses.enqueue(call, call, { text: 'Made it after all.' });
    const asked = nextRequest(tether);
    const handle = tether.send('cx', 'make a file', ask);
    const request = await asked;
    // Parked: the thread's app-server process is given back while the approval waits.
    await waitFor(async () => (await tether.stats()).runners.live === 0, 30_000);
    expect((await tether.approval(request.id))!.status).toBe('pending');
    await tether.decide(request.id, { decision: 'allow' });
    const result = await handle.result;
    expect(result.text).toBe('Made it after all.');
    expect(existsSync(join(fx.cwd, 'parked.txt'))).toBe(true);
    expect(await tether.approvals({ key: 'cx' })).toHaveLength(1);
  });
});
