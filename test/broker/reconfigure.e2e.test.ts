import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TurnStartedEvent } from '../../src/domain/events.js';
import type { Tether } from '../../src/broker/api.js';
import type { RecordedRequest } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** Sends and returns the reply with where the agent process came from. */
async function turn(tether: Tether, key: string, prompt: string): Promise<{ text: string; runner: TurnStartedEvent['runner'] }> {
  const handle = tether.send(key, prompt);
  let runner: TurnStartedEvent['runner'] | undefined;
  for await (const event of handle) if (event.type === 'turn.started') runner = event.runner;
  return { text: (await handle.result).text, runner: runner! };
}

/** Claude Code tells the model about plan mode in a system reminder of the request. */
function inPlanMode(request: RecordedRequest): boolean {
  const body = JSON.stringify(request.body);
  return body.lastIndexOf('Plan mode is active') > body.lastIndexOf('Exited Plan Mode');
}

/** A session's model and permission mode switched in the live agent process (setModel / setPermissionMode). */
describe('switching a live agent in place (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('switches the model in the warm process: the next turn runs warm, in the same process, on the new model', async () => {
    const tether = await fx.open();
    expect(await turn(tether, 'model:1', 'one')).toEqual({ text: 'Reply #1: one', runner: 'cold' });
    const defaultModel = fx.mock.mainRequests().at(-1)!.model;
    const pids = agentChildren();
    expect(pids).toHaveLength(1);

    await tether.update('model:1', { model: 'claude-other-model' });
    // Lazy: nothing happens to the process until the next turn.
    expect(agentChildren()).toEqual(pids);
    expect(await turn(tether, 'model:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(agentChildren()).toEqual(pids);
    const second = fx.mock.mainRequests().at(-1)!;
    expect(second.model).toBe('claude-other-model');
    expect(second.userTexts.at(-1)).toBe('two');
    expect(second.userTexts[0]).toBe('one');

    // Cleared: back to the agent's default, still in place.
    await tether.update('model:1', { model: null });
    expect(await turn(tether, 'model:1', 'three')).toEqual({ text: 'Reply #3: three', runner: 'warm' });
    expect(fx.mock.mainRequests().at(-1)!.model).toBe(defaultModel);
    expect(agentChildren()).toEqual(pids);
  });

  it('switches the permission mode in place (plan, then acceptEdits); the turns go on warm', async () => {
    const tether = await fx.open();
    await turn(tether, 'mode:1', 'one');
    const pids = agentChildren();
    expect(inPlanMode(fx.mock.mainRequests().at(-1)!)).toBe(false);

    await tether.update('mode:1', { permissionMode: 'plan' });
    expect(await turn(tether, 'mode:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(inPlanMode(fx.mock.mainRequests().at(-1)!)).toBe(true);

    await tether.update('mode:1', { permissionMode: 'acceptEdits', model: 'claude-other-model' });
    expect(await turn(tether, 'mode:1', 'three')).toEqual({ text: 'Reply #3: three', runner: 'warm' });
    const third = fx.mock.mainRequests().at(-1)!;
    expect(inPlanMode(third)).toBe(false);
    expect(third.model).toBe('claude-other-model');
    expect(agentChildren()).toEqual(pids);
    // An update that changes nothing the process runs with leaves it as it is.
    await tether.update('mode:1', { labels: { team: 'web' } });
    expect(await turn(tether, 'mode:1', 'four')).toEqual({ text: 'Reply #4: four', runner: 'warm' });
  });

  it('applies a switch made while a turn runs from the next turn', async () => {
    const tether = await fx.open();
    await turn(tether, 'busy:1', 'one');
    const pids = agentChildren();
    fx.mock.enqueue({ text: 'slow reply', delayMs: 800 });
    const slow = tether.send('busy:1', 'slow');
    await waitFor(() => fx.mock.mainRequests().length === 2);
    await tether.update('busy:1', { model: 'claude-other-model' });
    expect((await slow.result).text).toBe('slow reply');
    // The running turn was neither restarted nor sent again on the new model.
    expect(fx.mock.mainRequests()).toHaveLength(2);
    expect(fx.mock.mainRequests().at(-1)!.model).not.toBe('claude-other-model');

    expect(await turn(tether, 'busy:1', 'after')).toEqual({ text: 'Reply #3: after', runner: 'warm' });
    expect(fx.mock.mainRequests().at(-1)!.model).toBe('claude-other-model');
    expect(agentChildren()).toEqual(pids);
  });

  it('starts cold with the new settings when the process refuses the switch (bypassPermissions it was not started with)', async () => {
    // Claude Code refuses to skip permissions as root outside a sandbox; the test may run as root.
    const tether = await fx.open({ env: { ...fx.env, IS_SANDBOX: '1' } });
    await turn(tether, 'refuse:1', 'one');
    const [old] = agentChildren();

    await tether.update('refuse:1', { permissionMode: 'bypassPermissions', model: 'claude-other-model' });
    expect(await turn(tether, 'refuse:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'cold' });
    const second = fx.mock.mainRequests().at(-1)!;
    expect(second.model).toBe('claude-other-model');
    expect(second.userTexts[0]).toBe('one');
    expect(isRunning(old!)).toBe(false);
    const pids = agentChildren();
    expect(pids).toHaveLength(1);
    expect(pids).not.toContain(old);
    // The new process was started with these settings: it stays warm.
    expect(await turn(tether, 'refuse:1', 'three')).toEqual({ text: 'Reply #3: three', runner: 'warm' });
    expect(agentChildren()).toEqual(pids);
  });

  it('switches a process that started as a claimed spare', async () => {
    const tether = await fx.open({ spares: 1, maxLive: 3 });
    await waitFor(async () => (await tether.stats()).runners.spares === 1, 20_000);
    expect(await turn(tether, 'spare:1', 'one')).toEqual({ text: 'Reply #1: one', runner: 'spare' });
    await tether.update('spare:1', { model: 'claude-other-model', permissionMode: 'plan' });
    expect(await turn(tether, 'spare:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    const second = fx.mock.mainRequests().at(-1)!;
    expect(second.model).toBe('claude-other-model');
    expect(inPlanMode(second)).toBe(true);
  });

  it('a switch made through another node reaches the warm process of the node that runs the next turn', async () => {
    const a = await fx.open();
    const b = await fx.open();
    expect((await turn(b, 'nodes:1', 'one via b')).runner).toBe('cold');
    const pids = agentChildren();
    expect(pids).toHaveLength(1);

    const updated = await a.update('nodes:1', { model: 'claude-other-model', permissionMode: 'plan' });
    expect(updated.config).toMatchObject({ model: 'claude-other-model', permissionMode: 'plan' });
    expect(await turn(b, 'nodes:1', 'two via b')).toEqual({ text: 'Reply #2: two via b', runner: 'warm' });
    const second = fx.mock.mainRequests().at(-1)!;
    expect(second.model).toBe('claude-other-model');
    expect(inPlanMode(second)).toBe(true);
    expect(second.userTexts[0]).toBe('one via b');
    expect(agentChildren()).toEqual(pids);
  });
});
