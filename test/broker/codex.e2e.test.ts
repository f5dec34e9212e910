import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { agentChildren } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The Codex backend with the real Codex binary (`codex app-server`) against the mock Responses
 * API: the same operations as a Claude session, through the same library calls.
 */
describe('Codex sessions (real codex app-server)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const codex = { backend: 'codex' as const };
  const lastTexts = () => fx.responses.requests.at(-1)!.userTexts;
  /** The CODEX_HOMEs of a tenant's app-server processes that hold a rollout. */
  const homesWithRollouts = (root: string, tenant = 'default') =>
    existsSync(join(root, tenant)) ? readdirSync(join(root, tenant)).filter((name) => name.startsWith('p-') && existsSync(join(root, tenant, name, 'sessions'))) : [];

  it('continues one thread: warm, after Tether restarts, and after its CODEX_HOME is wiped', async () => {
    let tether = await fx.open();
    fx.responses.enqueue({ text: 'Hello from Codex.', usage: { inputTokens: 1200, cachedTokens: 200, outputTokens: 7, reasoningTokens: 3 } });
    const events: TetherEvent[] = [];
    const handle = tether.send('cx', 'first', codex);
    for await (const event of handle) events.push(event);
    const first = await handle.result;
    expect(first.text).toBe('Hello from Codex.');
    expect(events.filter((e) => e.type === 'text.delta').map((e) => (e as { text: string }).text).join('')).toBe('Hello from Codex.');
    expect(first.usage).toEqual({ inputTokens: 1000, cacheReadTokens: 200, outputTokens: 7, cacheWriteTokens: 0, costUsd: 0 });
    expect(first.context.window).toBeGreaterThan(0);
    expect(first.context.tokens).toBe(1207);
    const session = (await tether.get('cx'))!;
    expect(session).toMatchObject({ backend: 'codex', agentSessionId: first.agentSessionId, turns: 1 });
    // The thread's rollout is Codex's, under the CODEX_HOME of its process in the tenant's directory, and mirrored into the store.
    expect(homesWithRollouts(join(fx.dir, 'codex'))).toHaveLength(1);

    const second = await tether.send('cx', 'second').result;
    expect(second.agentSessionId).toBe(first.agentSessionId);
    expect(lastTexts()).toEqual(['first', 'second']);
    expect((await tether.stats()).runners.live).toBe(1);
    await tether.close();

    tether = await fx.open();
    const third = await tether.send('cx', 'third').result;
    expect(third.agentSessionId).toBe(first.agentSessionId);
    expect(lastTexts()).toEqual(['first', 'second', 'third']);
    await tether.close();

    rmSync(join(fx.dir, 'codex'), { recursive: true, force: true });
    tether = await fx.open();
    const fourth = await tether.send('cx', 'fourth').result;
    expect(fourth.agentSessionId).toBe(first.agentSessionId);
    expect(lastTexts()).toEqual(['first', 'second', 'third', 'fourth']);
    expect((await tether.get('cx'))!.turns).toBe(4);
  });

  it('continues one thread from two Tethers on one data directory, taking turns (each resumes from the store)', async () => {
    // Like a daemon and CLI commands beside it: Codex lets only one process write a thread, so
    // each app-server process has a CODEX_HOME of its own.
    const a = await fx.open();
    const b = await fx.open();
    const said: string[] = [];
    for (const [i, node] of [a, b, a, b, a].entries()) {
      said.push(`turn ${i}`);
      const events: TetherEvent[] = [];
      const handle = node.send('shared', `turn ${i}`, codex);
      for await (const event of handle) events.push(event);
      await handle.result;
      expect(lastTexts()).toEqual(said);
      // The other node ran the previous turn: this one's warm thread is stale, so it resumes.
      if (i > 0) expect(events.find((e) => e.type === 'turn.started')).toMatchObject({ runner: 'cold', resumed: true });
    }
  });

  it('keeps a Codex key and a Claude key side by side; a live key keeps its agent until a reset', async () => {
    const tether = await fx.open();
    const [c, k] = await Promise.all([tether.send('cx', 'to codex', codex).result, tether.send('cl', 'to claude').result]);
    expect(c.text).toBe('Reply #1: to codex');
    expect(k.text).toBe('Reply #1: to claude');
    expect((await tether.get('cx'))!.backend).toBe('codex');
    expect((await tether.get('cl'))!.backend).toBe('claude');

    await expect(tether.send('cx', 'now claude', { backend: 'claude' }).result).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('runs on codex') });
    await tether.reset('cx');
    const switched = await tether.send('cx', 'now claude', { backend: 'claude' }).result;
    expect(switched.text).toBe('Reply #1: now claude');
    expect((await tether.get('cx'))!).toMatchObject({ backend: 'claude', generation: 2 });

    // Each tenant's threads live in CODEX_HOMEs of its own.
    await tether.send('cx', 'for acme', { ...codex, tenant: 'acme' }).result;
    expect(homesWithRollouts(join(fx.dir, 'codex'), 'acme')).toHaveLength(1);
  });

  it("gives Codex the session's developer instructions and model", async () => {
    const tether = await fx.open();
    await tether.send('cx', 'bonjour', { ...codex, appendSystemPrompt: 'Always answer in French.', model: 'gpt-5.5-mini' }).result;
    const request = fx.responses.requests.at(-1)!;
    expect(request.model).toBe('gpt-5.5-mini');
    expect(JSON.stringify(request.body)).toContain('Always answer in French.');
  });

  it('refuses settings Codex has no counterpart for, naming them, and writes nothing', async () => {
    const tether = await fx.open();
    await expect(tether.send('cx', 'hi', { ...codex, maxTurns: 3 }).result).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('maxTurns') });
    await expect(tether.send('cx', 'hi', { ...codex, allowedTools: ['Read'] }).result).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('allowedTools') });
    expect(await tether.get('cx')).toBeNull();
    expect(fx.responses.requests).toHaveLength(0);
  });

  it('forks, regenerates, and carries an exported thread to a fresh store and home', async () => {
    const tether = await fx.open();
    for (const p of ['one', 'two', 'three']) await tether.send('src', p, codex).result;
    const turns = await tether.turns('src');

    const full = await tether.fork('src', 'copy');
    expect(full.backend).toBe('codex');
    expect(full.agentSessionId).not.toBe((await tether.get('src'))!.agentSessionId);
    await tether.send('copy', 'copy goes on').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'copy goes on']);

    await tether.fork('src', 'early', { atTurn: turns[1]!.seq });
    await tether.send('early', 'from turn two').result;
    expect(lastTexts()).toEqual(['one', 'two', 'from turn two']);

    fx.responses.enqueue({ text: 'a better three' });
    const again = await tether.regenerate('src').result;
    expect(again.text).toBe('a better three');
    expect(lastTexts()).toEqual(['one', 'two', 'three']);
    await tether.send('src', 'source goes on').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'source goes on']);

    const bundle = JSON.parse(JSON.stringify(await tether.export('src')));
    expect(bundle.session.backend).toBe('codex');
    const elsewhere = join(fx.dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const second = await fx.open({ db: join(elsewhere, 'other.db') });
    await second.import(bundle, { key: 'moved' });
    await second.send('moved', 'carried on').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'source goes on', 'carried on']);
    expect(homesWithRollouts(join(elsewhere, 'codex'))).toHaveLength(1);

    // Codex keeps a fork's history by reference to its source; the copy needs neither the source's key nor its files.
    await tether.delete('src');
    await tether.close();
    rmSync(join(fx.dir, 'codex'), { recursive: true, force: true });
    const reopened = await fx.open();
    await reopened.send('copy', 'after its source is gone').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'copy goes on', 'after its source is gone']);
  });

  it('hibernates an idle thread (its app-server ends with it), and the next turn resumes it cold; continue goes on without new text', async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ clock, liveIdleSec: 60 });
    await tether.send('cx', 'one', codex).result;
    expect(agentChildren(process.pid, 'codex')).toHaveLength(1);
    clock.advance(61_000);
    expect((await tether.gc()).hibernated).toBe(1);
    await waitFor(() => agentChildren(process.pid, 'codex').length === 0);
    const events: TetherEvent[] = [];
    const handle = tether.send('cx', 'two');
    for await (const event of handle) events.push(event);
    expect(events.find((e) => e.type === 'turn.started')).toMatchObject({ runner: 'cold', resumed: true });
    expect((await handle.result).text).toBe('Reply #2: two');

    fx.responses.enqueue({ text: 'going on' });
    expect((await tether.continue('cx').result).text).toBe('going on');
    expect(lastTexts()).toEqual(['one', 'two', 'continue']);
  });

  it('runs the turns of several threads at once in one shared app-server process, and switches a warm thread\'s model', async () => {
    const tether = await fx.open({ codexThreadsPerProcess: 4 });
    const keys = ['a', 'b', 'c'];
    const first = await Promise.all(keys.map((k) => tether.send(`cx:${k}`, `hello ${k}`, codex).result));
    expect(first.map((r) => r.text)).toEqual(keys.map((k) => `Reply #1: hello ${k}`));
    expect(agentChildren(process.pid, 'codex')).toHaveLength(1);
    const second = await Promise.all(keys.map((k) => tether.send(`cx:${k}`, `again ${k}`).result));
    expect(second.map((r) => r.text)).toEqual(keys.map((k) => `Reply #2: again ${k}`));
    expect(new Set(first.map((r) => r.agentSessionId)).size).toBe(3);

    await tether.update('cx:a', { model: 'gpt-5.5-mini' });
    const events: TetherEvent[] = [];
    const handle = tether.send('cx:a', 'on the small model');
    for await (const event of handle) events.push(event);
    await handle.result;
    expect(events.find((e) => e.type === 'turn.started')).toMatchObject({ runner: 'warm' });
    expect(fx.responses.requests.at(-1)).toMatchObject({ model: 'gpt-5.5-mini', userTexts: ['hello a', 'again a', 'on the small model'] });
  });

  it('interrupts a running turn; the thread goes on with the next one', async () => {
    const tether = await fx.open();
    await tether.send('cx', 'warm up', codex).result;
    fx.responses.enqueue({ text: 'never finished', delayMs: 60_000 });
    const handle = tether.send('cx', 'long task');
    for await (const event of handle) if (event.type === 'turn.started') break;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await tether.interrupt('cx');
    await expect(handle.result).rejects.toMatchObject({ code: 'INTERRUPTED' });
    const next = await tether.send('cx', 'next').result;
    expect(next.text).toContain('next');
  });

  it('compacts through Codex, and ends its app-server processes with Tether', async () => {
    const tether = await fx.open();
    await tether.send('cx', 'one', codex).result;
    await tether.send('cx', 'two').result;
    const compacted = await tether.compact('cx');
    expect(compacted.preTokens).toBeGreaterThan(0);
    expect((await tether.get('cx'))!.context.tokens).toBe(compacted.postTokens);
    const after = await tether.send('cx', 'three').result;
    expect(after.text).toContain('three');
    expect(agentChildren(process.pid, 'codex')).toHaveLength(1);
    await tether.close();
    expect(agentChildren(process.pid, 'codex')).toEqual([]);
  });

  it("types Codex's API failures, and parks Codex turns (not Claude's) on its usage limit until the reset", async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ clock });
    fx.responses.enqueue({ fault: { kind: 'status', status: 500 } });
    await expect(tether.send('cx', 'overloaded', codex).result).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('internalServerError') });

    fx.responses.enqueue({ fault: { kind: 'status', status: 400, type: 'context_length_exceeded', message: 'Your input exceeds the context window of this model.' } });
    await expect(tether.send('cx', 'too long').result).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringContaining('no longer fits') });
    // Codex names a dropped stream while it retries; Tether keeps that name for its final error.
    writeFileSync(fx.codexConfig, readFileSync(fx.codexConfig, 'utf8').replace('stream_max_retries = 0', 'stream_max_retries = 1'));
    await tether.reset('cx');
    fx.responses.enqueue({ text: 'cut short', fault: { kind: 'drop' } }, { text: 'cut again', fault: { kind: 'drop' } });
    await expect(tether.send('cx', 'dropped', codex).result).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('responseStreamDisconnected') });

    const resetsAt = Math.floor(clock.now() / 1000) * 1000 + 3_600_000;
    fx.responses.enqueue({
      fault: {
        kind: 'status',
        status: 429,
        type: 'usage_limit_reached',
        message: 'You have hit your usage limit.',
        headers: { 'x-codex-primary-used-percent': '100', 'x-codex-primary-window-minutes': '300', 'x-codex-primary-reset-at': String(resetsAt / 1000) },
      },
    });
    const limited = await tether.send('cx', 'limited').result.catch((e: unknown) => e);
    expect(limited).toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining(`resets at ${new Date(resetsAt).toISOString()}`) });
    expect((await tether.stats()).usageLimit).toMatchObject({ backend: 'codex', until: new Date(resetsAt).toISOString() });

    const parked = tether.send('cx', 'after the reset');
    await parked.accepted;
    // Claude's account is another: its turns run meanwhile.
    expect((await tether.send('cl', 'claude runs', { backend: 'claude' }).result).text).toBe('Reply #1: claude runs');
    expect((await tether.turns('cx')).at(-1)!.status).toBe('queued');
    const asked = fx.responses.requests.length;

    clock.advance(3_600_000);
    expect((await parked.result).text).toContain('after the reset');
    expect(fx.responses.requests.length).toBe(asked + 1);
  });

  it('without the mirror keeps rollouts on disk; recovers a thread whose rollout is gone everywhere with a recap', async () => {
    const tether = await fx.open({ mirrorTranscripts: false });
    await tether.send('cx', 'remember the blue door', codex).result;
    await tether.close();
    // Its process and home are gone, but Codex's file is the only copy: it was kept.
    const again = await fx.open({ mirrorTranscripts: false });
    await again.send('cx', 'still there?').result;
    expect(lastTexts()).toEqual(['remember the blue door', 'still there?']);
    await again.close();
    rmSync(join(fx.dir, 'codex'), { recursive: true, force: true });

    const reopened = await fx.open({ mirrorTranscripts: false });
    const events: TetherEvent[] = [];
    const handle = reopened.send('cx', 'which door?');
    for await (const event of handle) events.push(event);
    const result = await handle.result;
    expect(events.some((e) => e.type === 'session.recovered')).toBe(true);
    expect(result.agentSessionId).not.toBe(null);
    const sent = fx.responses.requests.at(-1)!.userTexts.join('\n');
    expect(sent).toContain('remember the blue door');
    expect(sent).toContain('which door?');
    // The new thread is the key's from now on.
    await reopened.send('cx', 'and now?').result;
    expect(fx.responses.requests.at(-1)!.userTexts.at(-1)).toBe('and now?');
  });
});
