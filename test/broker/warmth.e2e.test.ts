import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import type { TetherEvent, TurnStartedEvent } from '../../src/domain/events.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning } from '../helpers/processes.js';

/** Sends and returns the reply with where the agent process came from. */
async function turn(tether: Tether, key: string, prompt: string): Promise<{ text: string; runner: TurnStartedEvent['runner'] }> {
  const handle = tether.send(key, prompt);
  let runner: TurnStartedEvent['runner'] | undefined;
  for await (const event of handle) if (event.type === 'turn.started') runner = event.runner;
  return { text: (await handle.result).text, runner: runner! };
}

/** Waits (on the wall clock: a real process exits) until `pid` is gone. */
async function gone(pid: number, withinMs = 10_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (isRunning(pid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isRunning(pid);
}

describe('wake and sleep (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('wakes a session on a Tether that has run no turn of it: a real process, taken warm by the next turn, which continues the conversation; sleep ends it', async () => {
    const first = await fx.open();
    expect(await turn(first, 'wake:1', 'one')).toEqual({ text: 'Reply #1: one', runner: 'cold' });
    await first.close();
    expect(agentChildren()).toEqual([]);

    // A new Tether (a restarted daemon) on the same store: the session is there, no process is.
    const tether = await fx.open();
    expect((await tether.stats()).runners.live).toBe(0);
    const requests = fx.mock.mainRequests().length;
    const woken = await tether.wake('wake:1');
    expect(woken).toEqual({ status: 'woken', pid: expect.any(Number) });
    expect(isRunning(woken.pid!)).toBe(true);
    expect(agentChildren()).toEqual([woken.pid]);
    expect((await tether.stats()).runners).toMatchObject({ live: 1, idle: 1, busy: 0 });
    // Starting the process asks the model nothing.
    expect(fx.mock.mainRequests()).toHaveLength(requests);
    expect(await tether.wake('wake:1')).toEqual({ status: 'awake', pid: woken.pid });

    expect(await turn(tether, 'wake:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(agentChildren()).toEqual([woken.pid]);
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['one', 'two']);

    expect(await tether.sleep('wake:1')).toEqual({ slept: true });
    expect(await gone(woken.pid!)).toBe(true);
    expect((await tether.stats()).runners.live).toBe(0);
    expect(await tether.sleep('wake:1')).toEqual({ slept: false });
    // Asleep, the session resumes cold with its whole conversation.
    expect(await turn(tether, 'wake:1', 'three')).toEqual({ text: 'Reply #3: three', runner: 'cold' });
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['one', 'two', 'three']);
  }, 120_000);

  it('wakes a session whose conversation is gone everywhere into a new one; the next turn reports it and opens with the recap', async () => {
    const first = await fx.open();
    const r1 = await first.send('wake:lost', 'my name is Ada').result;
    await first.close();
    const store = openSqliteStore({ path: fx.dbPath });
    await store.deleteTranscript({ agentSessionId: r1.agentSessionId! });
    await store.close();
    rmSync(join(fx.home, '.claude', 'projects'), { recursive: true, force: true });

    const tether = await fx.open();
    expect((await tether.wake('wake:lost')).status).toBe('woken');
    const handle = tether.send('wake:lost', 'what is my name?');
    const events: TetherEvent[] = [];
    for await (const e of handle) events.push(e);
    const r2 = await handle.result;
    expect(events.find((e) => e.type === 'turn.started')).toMatchObject({ runner: 'warm' });
    expect(events.find((e) => e.type === 'session.recovered')).toMatchObject({ previousAgentSessionId: r1.agentSessionId, agentSessionId: r2.agentSessionId });
    expect(r2.agentSessionId).not.toBe(r1.agentSessionId);
    const opening = fx.mock.mainRequests().at(-1)!.userTexts;
    expect(opening).toHaveLength(1);
    expect(opening[0]).toContain('User: my name is Ada\nAssistant: Reply #1: my name is Ada');
    expect(opening[0]!.endsWith('what is my name?')).toBe(true);
    expect((await tether.get('wake:lost'))?.agentSessionId).toBe(r2.agentSessionId);
  }, 120_000);

  it('reports a process that cannot start as AGENT_FAILED, with what it said, and leaves nothing running', async () => {
    const first = await fx.open();
    await turn(first, 'wake:2', 'one');
    await first.close();
    // An agent binary that dies as it starts.
    const binary = join(fx.dir, 'broken-claude');
    writeFileSync(binary, '#!/bin/sh\necho "cannot start: broken install" >&2\nexit 3\n', { mode: 0o755 });
    const broken = await fx.open({ claudePath: binary });
    await expect(broken.wake('wake:2')).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringContaining('broken install') });
    expect((await broken.stats()).runners.live).toBe(0);
    expect(agentChildren()).toEqual([]);
  }, 60_000);
});
