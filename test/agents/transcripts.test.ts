import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkResumable, localTranscriptPath, sessionStoreOver, withConfigDir } from '../../src/agents/claude/transcripts.js';
import { recapFromJournal } from '../../src/broker/recap.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-transcripts-'));
  store = openSqliteStore({ path: ':memory:' });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const line = (uuid: string | undefined, text: string) => ({ type: 'user', ...(uuid ? { uuid } : {}), message: { content: text } });

describe('the SDK SessionStore over the store', () => {
  it('keys transcripts by conversation id, whatever the project key, and keeps subpaths apart', async () => {
    const sdk = sessionStoreOver(store);
    await sdk.append({ projectKey: '-old-cwd', sessionId: 's1' }, [line('a', 'one')]);
    await sdk.append({ projectKey: '-old-cwd', sessionId: 's1', subpath: 'subagents/agent-x' }, [line('b', 'sub')]);
    // The cwd moved: the SDK asks under another project key and still finds the conversation.
    expect(await sdk.load({ projectKey: '-new-cwd', sessionId: 's1' })).toEqual([line('a', 'one')]);
    expect(await sdk.listSubkeys!({ projectKey: '-new-cwd', sessionId: 's1' })).toEqual(['subagents/agent-x']);
    expect(await sdk.load({ projectKey: '-new-cwd', sessionId: 'nope' })).toBeNull();
    expect((await sdk.listSessions!('-old-cwd')).map((s) => s.sessionId)).toEqual(['s1']);
    await sdk.delete!({ projectKey: '-x', sessionId: 's1' });
    expect(await sdk.load({ projectKey: '-old-cwd', sessionId: 's1' })).toBeNull();
  });
});

describe('withConfigDir', () => {
  it('names the config directory only when the agent has a HOME of its own', () => {
    expect(withConfigDir({ HOME: '/elsewhere' }).CLAUDE_CONFIG_DIR).toBe(join('/elsewhere', '.claude'));
    expect(withConfigDir({ HOME: homedir() }).CLAUDE_CONFIG_DIR).toBeUndefined();
    expect(withConfigDir({ HOME: '/elsewhere', CLAUDE_CONFIG_DIR: '/cfg' }).CLAUDE_CONFIG_DIR).toBe('/cfg');
  });
});

describe('checkResumable', () => {
  const cwd = '/work/some project';
  const env = () => ({ HOME: dir });
  const writeLocal = (id: string, lines: unknown[], extra = '') => {
    const path = localTranscriptPath(id, cwd, env())!;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + extra);
  };

  it('finds the local file where Claude Code keeps it', () => {
    expect(localTranscriptPath('abc', cwd, env())).toBe(join(dir, '.claude', 'projects', '-work-some-project', 'abc.jsonl'));
    expect(localTranscriptPath('abc', `/${'x'.repeat(300)}`, env())).toBeNull();
  });

  it('is missing when neither the mirror nor the disk has the conversation', async () => {
    expect(await checkResumable(store, 'gone', cwd, env())).toBe('missing');
    expect(await checkResumable(null, 'gone', cwd, env())).toBe('missing');
  });

  it('copies a local-only conversation into the mirror, skipping a torn last line', async () => {
    writeLocal('c1', [line('a', 'one'), { type: 'custom-title', title: 't' }, line('b', 'two')], '{"type":"user","uui');
    expect(await checkResumable(store, 'c1', cwd, env())).toBe('local');
    expect(await store.loadTranscript({ agentSessionId: 'c1' })).toEqual([line('a', 'one'), { type: 'custom-title', title: 't' }, line('b', 'two')]);
    // Again: nothing is duplicated.
    expect(await checkResumable(store, 'c1', cwd, env())).toBe('mirror');
    expect(await store.loadTranscript({ agentSessionId: 'c1' })).toHaveLength(3);
  });

  it('adds what only the local file has (a turn cut off before its batch was mirrored)', async () => {
    await store.appendTranscript({ agentSessionId: 'c2' }, 'p', [line('a', 'one'), line('b', 'two')]);
    writeLocal('c2', [line('a', 'one'), line('b', 'two'), { type: 'tag', tag: 'x' }, line('c', 'cut off')]);
    expect(await checkResumable(store, 'c2', cwd, env())).toBe('mirror');
    expect((await store.loadTranscript({ agentSessionId: 'c2' }))!.map((e) => e.uuid ?? e.type)).toEqual(['a', 'b', 'c']);
  });

  it('keeps the mirror when the local file is behind it (another node went on)', async () => {
    await store.appendTranscript({ agentSessionId: 'c3' }, 'p', [line('a', 'one'), line('b', 'two')]);
    writeLocal('c3', [line('a', 'one')]);
    expect(await checkResumable(store, 'c3', cwd, env())).toBe('mirror');
    expect(await store.loadTranscript({ agentSessionId: 'c3' })).toHaveLength(2);
  });
});

describe('recapFromJournal', () => {
  it("recaps the session's last succeeded exchanges before the turn, oldest first, clipped", async () => {
    const base = {
      tenant: 'default', key: 'k', backend: 'claude' as const, config: { cwd: '/' }, labels: {}, owner: 'o', onBusy: 'queue' as const,
      maxQueue: 10, idleTimeoutMs: 0, maxSessions: 10, onLimit: 'evict-lru' as const, newSessionId: 's',
    };
    const run = async (prompt: string, status: 'succeeded' | 'failed', text: string | null) => {
      const q = await store.enqueueTurn({ ...base, prompt, turnId: `t-${prompt}`, leaseTtlMs: 10_000 });
      await store.finishTurn({ lease: q.lease!, turnId: q.turn.id, status, text, error: status === 'failed' ? { code: 'AGENT_FAILED', message: 'x' } : null, idleTimeoutMs: 0 });
      return q;
    };
    await run('hello', 'succeeded', 'hi there');
    await run('broken', 'failed', null);
    await run('long', 'succeeded', 'y'.repeat(5000));
    const current = await store.enqueueTurn({ ...base, prompt: 'now', turnId: 't-now' });
    const recap = await recapFromJournal(store, current.session, current.turn);
    expect(recap).toMatch(/^\[Tether: this conversation's history could not be restored/);
    expect(recap).toContain('User: hello\nAssistant: hi there');
    expect(recap).not.toContain('broken');
    expect(recap).toContain(`Assistant: ${'y'.repeat(2000)} […]`);
    expect(recap.indexOf('hello')).toBeLessThan(recap.indexOf('User: long'));
    expect(recap).not.toContain('now');

    const empty = await recapFromJournal(store, current.session, { ...current.turn, seq: 1 });
    expect(empty).toMatch(/No earlier exchange is on record/);
  });
});
