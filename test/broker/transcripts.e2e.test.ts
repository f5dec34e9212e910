import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localTranscriptPath } from '../../src/agents/claude/transcripts.js';
import type { TetherEvent } from '../../src/domain/events.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { serveOverHttp } from '../helpers/serve.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/**
 * The transcript mirror and verified resume, with the real agent: Tether keeps its own copy of
 * every conversation (the Agent SDK's SessionStore over the store), so losing ~/.claude loses
 * nothing; and a conversation lost everywhere continues as a new one opening with a recap.
 */
describe('transcript mirror and verified resume (real agent)', () => {
  let fx: AgentFixture;
  let store: SqliteStore | undefined;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = undefined;
    await fx.cleanup();
  });

  /** A second connection on the fixture's database, to look at and damage what Tether wrote. */
  const inspect = (): SqliteStore => (store ??= openSqliteStore({ path: fx.dbPath }));

  const collect = (events: AsyncIterable<TetherEvent>): Promise<TetherEvent[]> =>
    (async () => {
      const out: TetherEvent[] = [];
      for await (const e of events) out.push(e);
      return out;
    })();

  it('mirrors every turn into the store, and a wiped ~/.claude loses nothing', async () => {
    const first = await fx.open();
    const r1 = await first.send('chat:mirror', 'the secret word is BANANA').result;
    const r2 = await first.send('chat:mirror', 'and the number is 7').result;
    await first.close();

    const entries = await inspect().loadTranscript({ agentSessionId: r1.agentSessionId! });
    expect(r2.agentSessionId).toBe(r1.agentSessionId);
    const texts = JSON.stringify(entries);
    expect(texts).toContain('the secret word is BANANA');
    expect(texts).toContain('Reply #2: and the number is 7');
    // Entries keep their uuids, once each.
    const uuids = entries!.map((e) => e.uuid).filter(Boolean);
    expect(new Set(uuids).size).toBe(uuids.length);

    rmSync(join(fx.home, '.claude'), { recursive: true, force: true });
    const second = await fx.open();
    const handle = second.send('chat:mirror', 'what were they?');
    const events = collect(handle);
    const r3 = await handle.result;
    expect(r3.text).toBe('Reply #3: what were they?');
    expect(r3.agentSessionId).toBe(r1.agentSessionId);
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['the secret word is BANANA', 'and the number is 7', 'what were they?']);
    expect((await events).map((e) => e.type)).not.toContain('session.recovered');
  });

  it('continues under another HOME (another machine) from the mirror alone', async () => {
    const first = await fx.open();
    const r1 = await first.send('chat:home', 'remember 42').result;
    await first.close();

    const otherHome = join(fx.dir, 'other-home');
    mkdirSync(otherHome);
    // Nothing of the conversation is under the new HOME: what the agent gets can only come from the store.
    expect(existsSync(localTranscriptPath(r1.agentSessionId!, fx.cwd, { HOME: otherHome })!)).toBe(false);
    const second = await fx.open({ env: { ...fx.env, HOME: otherHome } });
    const r2 = await second.send('chat:home', 'what did I ask you to remember?').result;
    expect(r2.agentSessionId).toBe(r1.agentSessionId);
    expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['remember 42', 'what did I ask you to remember?']);
  });

  it('copies a conversation that exists only on disk into the mirror before resuming it', async () => {
    const first = await fx.open({ mirrorTranscripts: false });
    const r1 = await first.send('chat:legacy', 'written before the mirror').result;
    await first.close();
    expect(await inspect().loadTranscript({ agentSessionId: r1.agentSessionId! })).toBeNull();

    const second = await fx.open();
    await second.send('chat:legacy', 'second turn').result;
    const mirrored = await inspect().loadTranscript({ agentSessionId: r1.agentSessionId! });
    expect(JSON.stringify(mirrored)).toContain('written before the mirror');
    expect(JSON.stringify(mirrored)).toContain('second turn');
  });

  it('a conversation gone from the store and from disk continues as a new one with a recap; the key never dies', async () => {
    const tether = await fx.open();
    const r1 = await tether.send('chat:lost', 'my name is Ada').result;
    await tether.send('chat:lost', 'I like tea').result;
    await tether.close();

    // Gone everywhere: Claude's sweep took the file, and the mirror lost it too.
    await inspect().deleteTranscript({ agentSessionId: r1.agentSessionId! });
    rmSync(join(fx.home, '.claude', 'projects'), { recursive: true, force: true });

    const again = await fx.open();
    const handle = again.send('chat:lost', 'what is my name?');
    const events = collect(handle);
    const r3 = await handle.result;
    expect(r3.text).toMatch(/^Reply #1: /);
    expect(r3.agentSessionId).not.toBe(r1.agentSessionId);

    const recovered = (await events).find((e) => e.type === 'session.recovered');
    expect(recovered).toMatchObject({
      type: 'session.recovered',
      key: 'chat:lost',
      previousAgentSessionId: r1.agentSessionId,
      agentSessionId: r3.agentSessionId,
      reason: expect.stringMatching(/gone/),
    });
    // The new conversation opens with the recap of the journal, then the new message.
    const opening = fx.mock.mainRequests().at(-1)!.userTexts;
    expect(opening).toHaveLength(1);
    expect(opening[0]).toContain('User: my name is Ada\nAssistant: Reply #1: my name is Ada');
    expect(opening[0]).toContain('User: I like tea\nAssistant: Reply #2: I like tea');
    expect(opening[0]!.endsWith('what is my name?')).toBe(true);

    // Same session and generation; the new conversation is the one resumed from now on.
    const session = await again.get('chat:lost');
    expect(session).toMatchObject({ generation: 1, turns: 3, agentSessionId: r3.agentSessionId });
    const r4 = await again.send('chat:lost', 'and what do I like?').result;
    expect(r4.agentSessionId).toBe(r3.agentSessionId);
    expect(fx.mock.mainRequests().at(-1)!.userTexts.at(-1)).toBe('and what do I like?');
    expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toContain('my name is Ada');
  });

  it('recovers when only the agent finds the conversation unusable (a damaged local file)', async () => {
    const tether = await fx.open({ mirrorTranscripts: false });
    const r1 = await tether.send('chat:damaged', 'first words').result;
    await tether.close();
    // The file is there (the check passes) but holds no conversation.
    writeFileSync(localTranscriptPath(r1.agentSessionId!, fx.cwd, fx.env)!, '');

    const again = await fx.open({ mirrorTranscripts: false });
    const handle = again.send('chat:damaged', 'still there?');
    const events = collect(handle);
    const r2 = await handle.result;
    expect(r2.agentSessionId).not.toBe(r1.agentSessionId);
    expect((await events).find((e) => e.type === 'session.recovered')).toMatchObject({ reason: expect.stringMatching(/agent could not find/) });
    expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toContain('User: first words');
  });

  it("deleting a key removes its conversation's transcript from the store", async () => {
    const tether = await fx.open();
    const r1 = await tether.send('chat:rm', 'to be forgotten').result;
    expect(await inspect().loadTranscript({ agentSessionId: r1.agentSessionId! })).not.toBeNull();
    await tether.delete('chat:rm');
    expect(await inspect().loadTranscript({ agentSessionId: r1.agentSessionId! })).toBeNull();
  });

  it('a client over HTTP sees session.recovered in the turn stream', async () => {
    const first = await fx.open();
    const r1 = await first.send('http:lost', 'remember the colour green').result;
    await first.close();
    await inspect().deleteTranscript({ agentSessionId: r1.agentSessionId! });
    rmSync(join(fx.home, '.claude', 'projects'), { recursive: true, force: true });

    const tether = await fx.open();
    const served = await serveOverHttp(tether, fx);
    try {
      const handle = served.client.send('http:lost', 'which colour?');
      const events = collect(handle);
      await handle.result;
      expect((await events).find((e) => e.type === 'session.recovered')).toMatchObject({ previousAgentSessionId: r1.agentSessionId });
    } finally {
      await served.close();
    }
  });
});
