import { execFileSync } from 'node:child_process';
import { getPriority } from 'node:os';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { TetherEvent, TurnStartedEvent } from '../../src/domain/events.js';
import { ErrorCode } from '../../src/errors.js';
import type { Tether } from '../../src/broker/api.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren, isRunning, sampleMax } from '../helpers/processes.js';

/** Sends and returns the reply with where the agent process came from. */
async function turn(tether: Tether, key: string, prompt: string): Promise<{ text: string; runner: TurnStartedEvent['runner'] }> {
  const handle = tether.send(key, prompt);
  let runner: TurnStartedEvent['runner'] | undefined;
  for await (const event of handle) if (event.type === 'turn.started') runner = event.runner;
  return { text: (await handle.result).text, runner: runner! };
}

describe('warm runners (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  it('keeps a session warm: later turns go into the same process', async () => {
    const tether = await fx.open();
    expect(await turn(tether, 'warm:1', 'one')).toEqual({ text: 'Reply #1: one', runner: 'cold' });
    const pids = agentChildren();
    expect(pids).toHaveLength(1);
    expect(await turn(tether, 'warm:1', 'two')).toEqual({ text: 'Reply #2: two', runner: 'warm' });
    expect(await turn(tether, 'warm:1', 'three')).toEqual({ text: 'Reply #3: three', runner: 'warm' });
    expect(agentChildren()).toEqual(pids);
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['one', 'two', 'three']);
    expect((await tether.stats()).runners).toMatchObject({ live: 1, idle: 1, busy: 0 });
  });

  it('runs agents below its own CPU priority (agentNice, default 5; 0 leaves them at its own)', async () => {
    const base = getPriority();
    const niced = await fx.open();
    await turn(niced, 'nice:1', 'one');
    const [pid] = agentChildren();
    expect(getPriority(pid)).toBe(Math.min(19, base + 5));
    await niced.close();
    const plain = await fx.open({ agentNice: 0 });
    await turn(plain, 'nice:2', 'two');
    const [other] = agentChildren();
    expect(getPriority(other)).toBe(base);
  });

  it('never runs more agent processes than maxLive; the least recently used idle one hibernates', async () => {
    const tether = await fx.open({ maxLive: 2 });
    const sampler = sampleMax(() => agentChildren().length);
    fx.mock.setDefault((req) => ({ text: `Reply #${req.userTexts.length}: ${req.lastUserText}`, delayMs: 150 }));
    const keys = ['cap:a', 'cap:b', 'cap:c', 'cap:d'];
    const firsts = await Promise.all(keys.map((k) => tether.send(k, `${k} first`).result));
    const seconds = await Promise.all(keys.map((k) => tether.send(k, `${k} second`).result));
    expect(sampler.stop()).toBeLessThanOrEqual(2);
    expect(firsts.map((r) => r.text)).toEqual(keys.map((k) => `Reply #1: ${k} first`));
    // Hibernated sessions resumed cold, with their conversation.
    expect(seconds.map((r) => r.text)).toEqual(keys.map((k) => `Reply #2: ${k} second`));
    expect((await tether.stats()).runners.live).toBeLessThanOrEqual(2);
    // Six cold starts and as many exits: 17 s on a quiet machine, 73 s under two CPU hogs.
  }, 240_000);

  it('under load (12 sessions × 2 turns, maxLive 3, a spare) never has more agent processes alive than the cap', async () => {
    const tether = await fx.open({ maxLive: 3, spares: 1 });
    const sampler = sampleMax(() => agentChildren().length, 5);
    const keys = Array.from({ length: 12 }, (_, i) => `load:${i}`);
    // Every turn of a key is sent at once: its second queues behind its first (the pin), while
    // the other keys wait for a slot and evict idle runners, so processes end all the time.
    const replies = await Promise.all(keys.flatMap((k) => [tether.send(k, `${k} one`).result, tether.send(k, `${k} two`).result]));
    expect(sampler.stop()).toBeLessThanOrEqual(3);
    expect(replies.map((r) => r.text)).toEqual(keys.flatMap((k) => [`Reply #1: ${k} one`, `Reply #2: ${k} two`]));
    expect((await tether.stats()).runners.live).toBeLessThanOrEqual(3);
  }, 240_000);

  it('a new session at the cap hibernates exactly one idle runner, the least recently used', async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ clock, maxLive: 4 });
    for (const key of ['one:a', 'one:b', 'one:c', 'one:d']) {
      await turn(tether, key, 'warm up');
      clock.advance(1_000);
    }
    expect(agentChildren()).toHaveLength(4);
    expect((await turn(tether, 'one:e', 'newcomer')).runner).toBe('cold');
    await waitFor(() => agentChildren().length === 4);
    // Only one:a (the least recently used) lost its process.
    expect((await turn(tether, 'one:b', 'still warm?')).runner).toBe('warm');
    expect((await turn(tether, 'one:c', 'still warm?')).runner).toBe('warm');
    expect((await turn(tether, 'one:d', 'still warm?')).runner).toBe('warm');
    expect(agentChildren()).toHaveLength(4);
  });

  it("under load keeps a session's runner for its queued next turn instead of letting a waiting session evict it", async () => {
    const tether = await fx.open({ maxLive: 1 });
    fx.mock.enqueue({ text: 'a1 slow', delayMs: 400 });
    const a1 = tether.send('pin:a', 'a1');
    await a1.accepted;
    const b1 = tether.send('pin:b', 'b1'); // waits for the only slot
    const a2 = tether.send('pin:a', 'a2'); // queued behind a1 on session a
    const started: Record<string, string> = {};
    tether.on('turn.started', (e) => {
      if (e.type === 'turn.started') started[e.key + '#' + e.turnId] = e.runner;
    });
    const [ra1, rb1, ra2] = await Promise.all([a1.result, b1.result, a2.result]);
    expect([ra1.text, rb1.text, ra2.text]).toEqual(['a1 slow', 'Reply #1: b1', 'Reply #2: a2']);
    expect(started[`pin:a#${ra2.turnId}`]).toBe('warm');
    expect(started[`pin:b#${rb1.turnId}`]).toBe('cold');
  });

  it('hibernates an idle runner after liveIdleSec; the next turn resumes cold with its conversation', async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ clock, liveIdleSec: 60 });
    await turn(tether, 'idle:1', 'before');
    const [pid] = agentChildren();
    clock.advance(59_000);
    expect((await tether.gc()).hibernated).toBe(0);
    clock.advance(2_000);
    expect((await tether.gc()).hibernated).toBe(1);
    await waitFor(() => !isRunning(pid!));
    expect(await turn(tether, 'idle:1', 'after')).toEqual({ text: 'Reply #2: after', runner: 'cold' });
  });

  it('never serves a turn from a runner that missed one (staleness guard across two instances)', async () => {
    const a = await fx.open();
    const b = await fx.open();
    expect((await turn(a, 'stale:1', 'one via a')).runner).toBe('cold');
    expect((await turn(b, 'stale:1', 'two via b')).runner).toBe('cold');
    // a still has a warm process that never saw turn two: it must not be used.
    const third = await turn(a, 'stale:1', 'three via a');
    expect(third).toEqual({ text: 'Reply #3: three via a', runner: 'cold' });
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['one via a', 'two via b', 'three via a']);
    // With nothing run elsewhere, a's fresh runner is reused.
    expect((await turn(a, 'stale:1', 'four via a')).runner).toBe('warm');
  });

  it('a reset is never served by the old conversation', async () => {
    const tether = await fx.open();
    await turn(tether, 'reset:1', 'old');
    await tether.reset('reset:1');
    expect(await turn(tether, 'reset:1', 'new')).toEqual({ text: 'Reply #1: new', runner: 'cold' });
  });

  it('detects a runner that died while idle and resumes cold', async () => {
    const tether = await fx.open();
    await turn(tether, 'dead:1', 'alive');
    const [pid] = agentChildren();
    process.kill(pid!, 'SIGKILL');
    await waitFor(() => !isRunning(pid!));
    expect(await turn(tether, 'dead:1', 'again')).toEqual({ text: 'Reply #2: again', runner: 'cold' });
  });

  it('fails the turn in flight with a typed error when its agent is killed, and recovers', async () => {
    const tether = await fx.open();
    await turn(tether, 'kill:1', 'first');
    fx.mock.enqueue({ text: 'too late', delayMs: 3_000 });
    const doomed = tether.send('kill:1', 'doomed');
    await waitFor(() => fx.mock.mainRequests().length === 2);
    const [pid] = agentChildren();
    const started = Date.now();
    process.kill(pid!, 'SIGKILL');
    await expect(doomed.result).rejects.toMatchObject({ code: ErrorCode.AGENT_FAILED, message: expect.stringMatching(/SIGKILL|killed|terminated|exited/) });
    expect(Date.now() - started).toBeLessThan(2_500);
    fx.mock.reset();
    const next = await turn(tether, 'kill:1', 'after the crash');
    expect(next.runner).toBe('cold');
    expect(next.text).toMatch(/^Reply #\d: /);
  });

  it('interrupts a turn in a live runner; the session goes on', async () => {
    const tether = await fx.open();
    await turn(tether, 'int:1', 'warm up');
    fx.mock.enqueue({ text: 'never', delayMs: 5_000 });
    const long = tether.send('int:1', 'long');
    await waitFor(() => fx.mock.mainRequests().length === 2);
    expect(await tether.interrupt('int:1')).toEqual({ turnId: (await long.accepted).turnId });
    await expect(long.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    expect((await tether.turns('int:1'))[1]).toMatchObject({ status: 'interrupted' });
    fx.mock.reset();
    expect((await turn(tether, 'int:1', 'still there?')).text).toMatch(/still there\?$/);
    expect(await tether.interrupt('int:1')).toEqual({ turnId: null });
  });

  it('starts new sessions on a parked spare, parks another, and falls back cold when a spare cannot take the session', async () => {
    const tether = await fx.open({ spares: 1, maxLive: 4 });
    await waitFor(async () => (await tether.stats()).runners.spares === 1, 20_000);
    expect(await turn(tether, 'spare:1', 'hi')).toEqual({ text: 'Reply #1: hi', runner: 'spare' });
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['hi']);
    expect(await turn(tether, 'spare:1', 'and you')).toEqual({ text: 'Reply #2: and you', runner: 'warm' });
    await waitFor(async () => (await tether.stats()).runners.spares === 1, 20_000);
    // Tool lists are fixed when a spare is parked: this session starts cold instead.
    const handle = tether.send('spare:2', 'tools', { allowedTools: ['Read'] });
    const started = await first(handle, 'turn.started');
    expect(started.runner).toBe('cold');
    expect((await handle.result).text).toBe('Reply #1: tools');
  });

  it('ends the tool processes of an agent that was killed mid-tool (found by its environment marker)', async () => {
    const tether = await fx.open();
    // Claude Code refuses a bare `sleep`; a long-running command with a marker to find it by.
    const marker = `tether_marker_${Math.floor(Math.random() * 1e9)}`;
    fx.mock.enqueue({ toolUse: { name: 'Bash', input: { command: `python3 -c 'import time; time.sleep(600)' ${marker}`, description: 'wait' } } });
    const handle = tether.send('tool:kill', 'run it', { allowedTools: ['Bash'] });
    const sleeping = (): boolean => {
      try {
        return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim() !== '';
      } catch {
        return false;
      }
    };
    await waitFor(sleeping, 20_000);
    // The agent dies without cleaning up after itself; its tool would be orphaned.
    const agents = agentChildren();
    for (const pid of agents) process.kill(pid, 'SIGKILL');
    await expect(handle.result).rejects.toMatchObject({ code: ErrorCode.AGENT_FAILED });
    // A survivor is described (its parent, its state, whether it carries the agent's marker), so
    // a rare failure on a loaded machine says why.
    onTestFailed(() => console.error(`agents killed: ${agents.join(', ')}; still running:\n${describeMatching(marker)}`));
    await waitFor(() => !sleeping(), 10_000);
  });

  it('leaves no agent process behind when closed', async () => {
    const tether = await fx.open({ spares: 1, maxLive: 4 });
    await Promise.all(['bye:1', 'bye:2'].map((k) => tether.send(k, 'x').result));
    await waitFor(async () => (await tether.stats()).runners.spares === 1, 20_000);
    const pids = agentChildren();
    expect(pids.length).toBe(3);
    await tether.close();
    expect(pids.filter(isRunning)).toEqual([]);
    expect(agentChildren()).toEqual([]);
  });
});

async function first<T extends TetherEvent['type']>(handle: AsyncIterable<TetherEvent>, type: T): Promise<Extract<TetherEvent, { type: T }>> {
  for await (const event of handle) if (event.type === type) return event as Extract<TetherEvent, { type: T }>;
  throw new Error(`no ${type} event`);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The processes whose command line holds `marker`: pid, parent, state, and their agent marker. */
function describeMatching(marker: string): string {
  let pids: string[];
  try {
    pids = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return '(none)';
  }
  return pids
    .map((pid) => {
      let env: string;
      try {
        env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').find((pair) => pair.startsWith('TETHER_AGENT_ID=')) ?? '(no TETHER_AGENT_ID)';
      } catch (err) {
        env = `(environ unreadable: ${(err as Error).message})`;
      }
      let ps: string;
      try {
        ps = execFileSync('ps', ['-o', 'pid=,ppid=,stat=,args=', '-p', pid], { encoding: 'utf8' }).trim();
      } catch {
        ps = `${pid} (gone)`;
      }
      return `${ps}  ${env}`;
    })
    .join('\n');
}
