import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { environmentOverrides, newProcessHome, processHomes } from '../../src/agents/codex/home.js';
import { findRollout, listRollouts, ROLLOUT_START, RolloutMirror } from '../../src/agents/codex/rollouts.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-rollouts-'));
  store = openSqliteStore({ path: ':memory:' });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const THREAD = '01a25216-80aa-7bb2-8551-de52cf3b8956';
const meta = (id: string, forkedFrom?: string) => ({ timestamp: '2026-12-07T19:58:56.265Z', type: 'session_meta', payload: { id, ...(forkedFrom ? { forked_from_id: forkedFrom } : {}) } });
const item = (n: number) => ({ timestamp: '2026-12-07T19:58:57.000Z', type: 'response_item', payload: { n } });
const jsonl = (...lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');

/** A rollout where Codex writes one: HOME/sessions/YYYY/MM/DD/rollout-<stamp>-<id>.jsonl. */
function rollout(home: string, id: string, text: string): string {
  const path = join(home, 'sessions', '2026', '12', '07', `rollout-2026-12-07T19-58-56-${id}.jsonl`);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

describe('the rollout mirror', () => {
  it('mirrors what each turn adds, leaves a torn last line for later, and lands a line twice once', async () => {
    const mirror = new RolloutMirror(store);
    const path = rollout(join(dir, 'home'), THREAD, jsonl(meta(THREAD), item(1)) + '{"torn');
    let at = await mirror.sync(THREAD, path, ROLLOUT_START);
    expect(at.lines).toBe(2);
    expect((await store.loadTranscript({ agentSessionId: THREAD }))!.map((e) => e.line)).toEqual([meta(THREAD), item(1)]);

    // The torn line is completed, and the turn adds another.
    writeFileSync(path, jsonl(meta(THREAD), item(1), item(2), item(3)));
    at = await mirror.sync(THREAD, path, at);
    expect(at).toEqual({ lines: 4, bytes: readFileSync(path).length });
    // A second process mirroring from the start adds nothing twice.
    await mirror.sync(THREAD, path, ROLLOUT_START);
    expect((await store.loadTranscript({ agentSessionId: THREAD }))!.map((e) => e.line)).toEqual([meta(THREAD), item(1), item(2), item(3)]);
  });

  it('writes the rollout back into an empty home, and over a local copy the store is ahead of', async () => {
    const mirror = new RolloutMirror(store);
    const first = rollout(join(dir, 'a'), THREAD, jsonl(meta(THREAD), item(1)));
    await mirror.sync(THREAD, first, ROLLOUT_START);
    const stale = rollout(join(dir, 'b'), THREAD, jsonl(meta(THREAD)));
    appendFileSync(first, jsonl(item(2)));
    await mirror.sync(THREAD, first, { lines: 2, bytes: jsonl(meta(THREAD), item(1)).length });

    const wiped = join(dir, 'wiped');
    const restored = await mirror.restore(THREAD, wiped);
    expect(restored!.path).toBe(findRollout(wiped, THREAD));
    expect(readFileSync(restored!.path, 'utf8')).toBe(jsonl(meta(THREAD), item(1), item(2)));
    expect(restored!.mirrored.lines).toBe(3);

    const behind = await mirror.restore(THREAD, join(dir, 'b'));
    expect(behind!.path).toBe(stale);
    expect(readFileSync(stale, 'utf8')).toBe(jsonl(meta(THREAD), item(1), item(2)));
    expect(await mirror.restore('no-such-thread', wiped)).toBeNull();
  });

  it('reconciles a rollout a crash cut off into the store, unless the thread went on elsewhere', async () => {
    const mirror = new RolloutMirror(store);
    const line = (ordinal: number) => ({ timestamp: `2026-12-07T19:58:5${ordinal}.000Z`, ordinal, type: 'response_item', payload: { ordinal } });
    const path = rollout(join(dir, 'crashed'), THREAD, jsonl(line(0), line(1)));
    await mirror.sync(THREAD, path, ROLLOUT_START);
    appendFileSync(path, jsonl(line(2)));
    expect(listRollouts(join(dir, 'crashed'))).toEqual([{ threadId: THREAD, path }]);
    await mirror.reconcile(THREAD, path);
    expect((await store.loadTranscript({ agentSessionId: THREAD }))!.map((e) => (e.line as { ordinal: number }).ordinal)).toEqual([0, 1, 2]);

    // Another copy that parted from the store's at line 2 adds nothing.
    const other = rollout(join(dir, 'other'), THREAD, jsonl(line(0), line(1), { ...line(2), timestamp: 'elsewhere' }, line(3)));
    await mirror.reconcile(THREAD, other);
    expect(await store.loadTranscript({ agentSessionId: THREAD })).toHaveLength(3);
  });

  it("keeps the rollouts a fork refers to under the fork's transcript, and writes them back with it", async () => {
    const mirror = new RolloutMirror(store);
    const home = join(dir, 'home');
    rollout(home, 'source', jsonl(meta('source'), item(1)));
    const fork = rollout(home, 'fork', jsonl(meta('fork', 'source'), item(2)));
    await mirror.sync('fork', fork, ROLLOUT_START);
    expect(await store.listTranscriptSubpaths('fork')).toEqual(['lineage/source']);

    const elsewhere = join(dir, 'elsewhere');
    await mirror.restore('fork', elsewhere);
    expect(readFileSync(findRollout(elsewhere, 'source')!, 'utf8')).toBe(jsonl(meta('source'), item(1)));
  });
});

describe('Codex homes', () => {
  it("are made per process in the tenant's directory, with the operator's config.toml and the owner's pid", () => {
    const base = join(dir, 'config.toml');
    writeFileSync(base, 'model = "a"\n');
    const homes = { root: join(dir, 'codex'), baseConfig: base };
    const one = newProcessHome(homes, 'acme');
    const two = newProcessHome(homes, 'acme');
    expect(one).not.toBe(two);
    expect(one.startsWith(join(dir, 'codex', 'acme', 'p-'))).toBe(true);
    expect(readFileSync(join(one, 'config.toml'), 'utf8')).toBe('model = "a"\n');
    expect(existsSync(join(newProcessHome({ ...homes, baseConfig: null }, 'bare'), 'config.toml'))).toBe(false);
    expect(processHomes(homes.root).filter((h) => !h.orphaned)).toHaveLength(3);

    // A home whose Tether is gone is an orphan.
    writeFileSync(join(two, 'tether.pid'), '999999999');
    expect(processHomes(homes.root).find((h) => h.home === two)).toMatchObject({ orphaned: true });
  });

  it('give OPENAI_BASE_URL to Codex as the setting it reads', () => {
    expect(environmentOverrides({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' })).toEqual(['openai_base_url="http://127.0.0.1:9/v1"']);
    expect(environmentOverrides({})).toEqual([]);
  });
});
