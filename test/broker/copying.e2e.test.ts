import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serveOverHttp } from '../helpers/serve.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/** Fork, export and import with the real agent: conversations copied, carried elsewhere, continued. */
describe('fork, export, import (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => fx.cleanup());

  const lastTexts = () => fx.mock.mainRequests().at(-1)!.userTexts;

  it('a fork carries the history (all of it, or up to a turn) and leaves the source alone', async () => {
    const tether = await fx.open();
    for (const p of ['one', 'two', 'three']) await tether.send('src', p).result;
    const turns = await tether.turns('src');

    const full = await tether.fork('src', 'copy');
    expect(full).toMatchObject({ key: 'copy', generation: 1, turns: 3 });
    expect(full.agentSessionId).not.toBe((await tether.get('src'))!.agentSessionId);
    await tether.send('copy', 'copy goes on').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'copy goes on']);

    const partial = await tether.fork('src', 'early', { atTurn: turns[1]!.seq });
    expect(partial.turns).toBe(2);
    await tether.send('early', 'from turn two').result;
    expect(lastTexts()).toEqual(['one', 'two', 'from turn two']);

    await tether.send('src', 'source goes on').result;
    expect(lastTexts()).toEqual(['one', 'two', 'three', 'source goes on']);
    expect((await tether.turns('copy')).map((t) => t.prompt)).toEqual(['one', 'two', 'three', 'copy goes on']);

    await expect(tether.fork('src', 'copy')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(tether.fork('src', 'x', { atTurn: 99 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(tether.fork('nobody', 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await tether.fork('src', 'copy', { replace: true })).generation).toBe(2);
  });

  it('an exported session continues on a fresh store under another HOME', async () => {
    const first = await fx.open();
    // The session's env is the operator's (it may hold secrets): it never leaves in a bundle.
    await first.send('travel', 'pack the blue suitcase', { labels: { user: 'ada' }, taskId: 'T-7', env: { TETHER_TEST_SECRET: 'hunter2-secret' } }).result;
    await first.send('travel', 'and the red one').result;
    const bundle = JSON.parse(JSON.stringify(await first.export('travel')));
    expect(bundle).toMatchObject({ format: 'tether.session', version: 1, session: { key: 'travel', labels: { user: 'ada' }, metadata: { taskId: 'T-7' } } });
    expect(bundle.turns).toHaveLength(2);
    expect(bundle.transcript.main.length).toBeGreaterThan(0);
    expect((await first.get('travel'))?.config.env).toEqual({ TETHER_TEST_SECRET: 'hunter2-secret' });
    expect(JSON.stringify(bundle)).not.toContain('TETHER_TEST_SECRET');
    expect(JSON.stringify(bundle)).not.toContain('hunter2-secret');
    expect(bundle.session.config).not.toHaveProperty('env');

    const elsewhere = join(fx.dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'home'), { recursive: true });
    const second = await fx.open({ db: join(elsewhere, 'other.db'), env: { ...fx.env, HOME: join(elsewhere, 'home') } });
    const imported = await second.import(bundle);
    expect(imported).toMatchObject({ key: 'travel', turns: 2, labels: { user: 'ada' }, metadata: { taskId: 'T-7' } });
    await second.send('travel', 'what did I pack?').result;
    expect(lastTexts()).toEqual(['pack the blue suitcase', 'and the red one', 'what did I pack?']);
    expect((await second.turns('travel')).map((t) => t.seq)).toEqual([1, 2, 3]);

    // The same store again, under another key: a copy of its own, never a shared transcript.
    const again = await first.import(bundle, { key: 'travel:2' });
    expect(again.agentSessionId).toEqual(expect.any(String));
    expect(again.agentSessionId).not.toBe(bundle.session.agentSessionId);
    await first.send('travel:2', 'only in the copy').result;
    await first.send('travel', 'only in the original').result;
    expect(lastTexts()).toEqual(['pack the blue suitcase', 'and the red one', 'only in the original']);
    await expect(first.import(bundle)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('refuses malformed, truncated, wrong-version and hostile bundles with INVALID_INPUT, changing nothing', async () => {
    const tether = await fx.open();
    await tether.send('good', 'hello').result;
    const good = JSON.parse(JSON.stringify(await tether.export('good')));
    const variants: Array<[string, unknown]> = [
      ['not an object', 'bundle'],
      ['empty', {}],
      ['wrong format', { ...good, format: 'other' }],
      ['wrong version', { ...good, version: 2 }],
      ['truncated (no transcript)', { ...good, transcript: undefined }],
      ['unknown field', { ...good, extra: true }],
      ['a running turn', { ...good, turns: [{ ...good.turns[0], status: 'running' }] }],
      ['a control character in the key', { ...good, session: { ...good.session, key: 'a\u0007b' } }],
      ['a bad label', { ...good, session: { ...good.session, labels: { 'no spaces': 'x' } } }],
      ['env smuggled into the config', { ...good, session: { ...good.session, config: { ...good.session.config, env: { ANTHROPIC_BASE_URL: 'http://evil' } } } }],
      ['a transcript entry without a type', { ...good, transcript: { main: [{ uuid: 'x' }], subpaths: {} } }],
      ['a cwd that does not exist', { ...good, session: { ...good.session, key: 'nowhere', config: { ...good.session.config, cwd: '/does/not/exist' } } }],
    ];
    const before = await tether.list();
    for (const [name, bundle] of variants) {
      await expect(tether.import(bundle, { key: 'imported' }), name).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(await tether.list()).toEqual(before);
    // The same bundle whole is taken: the refusals above were the variants' doing.
    expect(await tether.import(good, { key: 'imported' })).toMatchObject({ key: 'imported', turns: 1 });
  });

  it('a refused import writes nothing: no transcript, no entry, no session, no turn (SQLite)', async () => {
    const first = await fx.open();
    await first.send('taken', 'one').result;
    await first.send('taken', 'two').result;
    const bundle = JSON.parse(JSON.stringify(await first.export('taken')));
    expect(bundle.transcript.main.length).toBeGreaterThan(0);

    // Another store, where the key is live with a conversation of its own.
    const elsewhere = join(fx.dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'home'), { recursive: true });
    const dbPath = join(elsewhere, 'other.db');
    const second = await fx.open({ db: dbPath, env: { ...fx.env, HOME: join(elsewhere, 'home') } });
    await second.send('taken', 'mine').result;
    const mine = await second.get('taken');

    const db = new Database(dbPath, { readonly: true });
    try {
      const counts = () =>
        ['transcripts', 'transcript_entries', 'sessions', 'turns'].map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]);
      const before = counts();
      for (let i = 0; i < 3; i++) {
        await expect(second.import(bundle)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('already has a live session') });
      }
      expect(counts()).toEqual(before);
      expect(await second.get('taken')).toEqual(mine);

      // A bundle of this very store (its conversation is here already, so an import would copy
      // it): refused over a live key, it makes no copy either.
      const own = JSON.parse(JSON.stringify(await second.export('taken')));
      await expect(second.import(own)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(counts()).toEqual(before);

      // Accepted under a free key, the transcript arrives with the session, in one go.
      const imported = await second.import(bundle, { key: 'free' });
      expect(imported.agentSessionId).toBe(bundle.session.agentSessionId);
      const [transcripts, entries] = counts();
      expect(transcripts![1]).toBe((before[0]![1] as number) + 1);
      expect(entries![1]).toBe((before[1]![1] as number) + bundle.transcript.main.length);
    } finally {
      db.close();
    }
  });

  it('refuses an agent session id that is not a UUID (a path, an option), storing nothing', async () => {
    const tether = await fx.open();
    await tether.send('good', 'hello').result;
    const good = JSON.parse(JSON.stringify(await tether.export('good')));
    expect(good.session.agentSessionId).toMatch(/^[0-9a-f-]{36}$/);
    const before = await tether.list();
    for (const id of ['../../../../outside/pwn', '--dangerously-skip-permissions', '-r', `${good.session.agentSessionId}\n--x`, 'not-a-uuid', '']) {
      const bad = { ...good, session: { ...good.session, agentSessionId: id } };
      await expect(tether.import(bad, { key: 'imported' }), id).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('agentSessionId') });
    }
    expect(await tether.list()).toEqual(before);
  });

  it('refuses a bundle nested past the bounds (a stack overflow before), changing nothing', async () => {
    const tether = await fx.open();
    await tether.send('good', 'hello').result;
    const good = JSON.parse(JSON.stringify(await tether.export('good')));
    let deep: unknown = 1;
    for (let i = 0; i < 5_000; i++) deep = { a: deep };
    const before = await tether.list();
    for (const bad of [
      { ...good, session: { ...good.session, metadata: { x: deep } } },
      { ...good, transcript: { main: [{ ...good.transcript.main[0], x: deep }], subpaths: {} } },
    ]) {
      await expect(tether.import(bad, { key: 'imported' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('nested deeper than') });
    }
    expect(await tether.list()).toEqual(before);
    await expect(tether.update('good', { metadata: { x: deep } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('over HTTP and through the client: fork, export, import', async () => {
    const tether = await fx.open();
    const served = await serveOverHttp(tether, fx);
    try {
      const { client } = served;
      await client.send('h:1', 'over http').result;
      expect((await client.fork('h:1', 'h:2')).turns).toBe(1);
      const bundle = await client.export('h:2');
      expect((await client.import(bundle, { key: 'h:3' })).key).toBe('h:3');
      await client.send('h:3', 'still here').result;
      expect(lastTexts()).toEqual(['over http', 'still here']);
      await expect(client.import({ format: 'nope' }, { key: 'h:4' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(client.import(bundle, { key: 'h:5', cwd: '/etc' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await served.close();
    }
  });
});
