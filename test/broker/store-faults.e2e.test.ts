import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { ErrorCode } from '../../src/errors.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { FullDisk, mountRefusal, sh } from '../helpers/fault-disk.js';
import { agentChildren } from '../helpers/processes.js';
import { json, startServer, waitFor, type ServerFixture } from '../server/server-fixture.js';

/**
 * Store faults through the whole stack (HTTP, broker, real agent, real SQLite file): the disk
 * fills up, or the file system turns read-only under a running Tether.
 *
 * Disk full is a small tmpfs filled to ENOSPC. Read-only is an ext4 image on a loop device,
 * mounted `errors=remount-ro`, whose error the test raises through the kernel's own hook
 * (`/sys/fs/ext4/<dev>/trigger_fs_error`): the kernel refuses `mount -o remount,ro` while a file
 * is open for writing (EBUSY), so that is how a disk turns read-only under an open database for
 * real. Without the privilege to mount, the same tests use SQLite's own limits instead
 * (`PRAGMA max_page_count`, `PRAGMA query_only`) and say so in their names.
 */

const refusal = mountRefusal(['mkfs.ext4', 'e2fsck']);
const REAL = refusal === null;
const FULL_HOW = REAL ? 'a tmpfs filled to ENOSPC' : `SQLite max_page_count (cannot mount here: ${refusal})`;
const RO_HOW = REAL ? 'ext4 remounted read-only by the kernel' : `SQLite query_only (cannot mount here: ${refusal})`;

/** An ext4 image on a loop device that the kernel turns read-only on an error; repaired by fsck. */
class ReadOnlyDisk {
  readonly dir = mkdtempSync(join(tmpdir(), 'tether-ro-'));
  readonly #image = `${this.dir}.img`;
  constructor() {
    if (!REAL) return;
    writeFileSync(this.#image, '');
    sh('truncate', ['-s', '16M', this.#image]);
    sh('mkfs.ext4', ['-q', '-F', this.#image]);
    this.#mount();
  }
  #mount(): void {
    sh('mount', ['-o', 'loop,errors=remount-ro', this.#image, this.dir]);
  }
  /** The file system turns read-only while the database is open (SQLite sees EROFS). */
  break(store: SqliteStore): void {
    if (!REAL) {
      store.connection.pragma('query_only = ON');
      return;
    }
    const device = basename(sh('findmnt', ['-n', '-o', 'SOURCE', this.dir]).trim());
    writeFileSync(`/sys/fs/ext4/${device}/trigger_fs_error`, 'tether store-faults test');
  }
  /** What an operator does: unmount (Tether is stopped), fsck, mount read-write again. */
  repair(): void {
    if (!REAL) return;
    sh('umount', [this.dir]);
    try {
      sh('e2fsck', ['-f', '-y', this.#image]);
    } catch (err) {
      // 1: errors were corrected, which is the point here.
      if ((err as { status?: number }).status !== 1) throw err;
    }
    this.#mount();
  }
  dispose(): void {
    if (REAL) sh('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.#image, { force: true });
  }
}

/** Over three pages: it cannot fit in space the database already has. */
const BIG = 'x'.repeat(14_000);

function integrity(store: SqliteStore): unknown {
  return store.connection.pragma('integrity_check', { simple: true });
}

async function journal(tether: Tether, key: string): Promise<Array<{ id: string; status: string; prompt: string }>> {
  return (await tether.turns(key)).map((t) => ({ id: t.id, status: t.status, prompt: t.prompt }));
}

describe('store faults end operations with STORE_UNAVAILABLE, lose nothing, and heal (real agent, real SQLite)', () => {
  let fx: AgentFixture;
  beforeAll(async () => {
    fx = await agentFixture();
  });
  afterAll(async () => fx.cleanup());

  describe(`disk full: ${FULL_HOW}`, () => {
    let disk: FullDisk;
    let store: SqliteStore;
    let s: ServerFixture;
    beforeAll(async () => {
      disk = new FullDisk(REAL);
      store = openSqliteStore({ path: join(disk.dir, 'tether.db') });
      s = await startServer({ db: store.path }, { store }, fx);
    });
    afterAll(async () => {
      await s.app.close();
      await s.tether.close({ graceMs: 1_000 });
      disk.dispose();
    });

    it('refuses a new prompt (library and HTTP 503) without starting an agent, keeps the file whole, then serves the key again', async () => {
      const first = await s.tether.send('full:1', 'remember the number 7').result;
      expect(first.text).toBe('Reply #1: remember the number 7');
      const before = await journal(s.tether, 'full:1');
      const agents = agentChildren();
      const requests = fx.mock.requests.length;

      disk.fill(store);
      const refused = s.tether.send('full:1', BIG);
      await expect(refused.accepted).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, message: expect.stringMatching(/disk is full; free some space/) });
      await expect(refused.result).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      const res = await s.post('/v1/sessions/full%3A2/messages', { prompt: BIG });
      expect(res.status).toBe(503);
      expect((await json(res)).error).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, message: expect.stringMatching(/disk is full/) });

      expect(fx.mock.requests.length).toBe(requests);
      expect(agentChildren()).toEqual(agents);
      expect(integrity(store)).toBe('ok');
      expect(await journal(s.tether, 'full:1')).toEqual(before);
      expect(await s.tether.get('full:2')).toBeNull();

      disk.free(store);
      const again = await s.tether.send('full:1', 'what was the number?').result;
      expect(again.text).toBe('Reply #2: what was the number?');
      expect(fx.mock.mainRequests().at(-1)!.userTexts).toEqual(['remember the number 7', 'what was the number?']);
      expect(integrity(store)).toBe('ok');
    });

    it(`a fault while a turn runs (${REAL ? 'disk full' : 'query_only'}) ends it with STORE_UNAVAILABLE, leaves no agent, and is journaled interrupted once the store takes writes again`, async () => {
      await s.tether.send('full:3', 'first').result;
      // Its warm runner (and the first test's) are alive; the faulty turn runs on this key's.
      const warm = agentChildren();
      fx.mock.enqueue({ text: 'slow answer', delayMs: 1_500 });
      const asked = fx.mock.mainRequests().length;
      const turn = s.tether.send('full:3', 'second');
      const { turnId } = await turn.accepted;
      await waitFor(async () => fx.mock.mainRequests().length > asked);

      if (REAL) disk.fill(store);
      else store.connection.pragma('query_only = ON');
      await expect(turn.result).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      // The turn's agent process ended: nothing of it is left beside the other key's runner.
      await waitFor(async () => agentChildren().length === warm.length - 1, 5_000);
      expect(warm).toEqual(expect.arrayContaining(agentChildren()));

      if (REAL) disk.free(store);
      else store.connection.pragma('query_only = OFF');
      // Its own retry or the janitor journals it, whichever comes first.
      await s.tether.gc();
      const ended = await waitFor(async () => {
        const t = (await s.tether.turns('full:3')).find((x) => x.id === turnId);
        return t && t.status !== 'running' ? t : null;
      }, 3_000);
      expect(ended).toMatchObject({ status: 'interrupted', error: { code: ErrorCode.INTERRUPTED } });
      expect(integrity(store)).toBe('ok');

      const after = await s.tether.send('full:3', 'third').result;
      expect(after.text).toMatch(/third$/);
      expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toBe('first');
    });
  });

  describe(`read-only: ${RO_HOW}`, () => {
    let disk: ReadOnlyDisk;
    beforeAll(() => {
      disk = new ReadOnlyDisk();
    });
    afterAll(() => disk.dispose());

    it('refuses prompts (library and HTTP 503) with an actionable message, keeps the file whole, and a restarted Tether continues the key', async () => {
      const path = join(disk.dir, 'tether.db');
      let store = openSqliteStore({ path });
      let s = await startServer({ db: path }, { store }, fx);
      await s.tether.send('ro:1', 'remember the number 7').result;
      const before = await journal(s.tether, 'ro:1');
      const agents = agentChildren();
      const requests = fx.mock.requests.length;

      disk.break(store);
      const readOnly = /read-only/;
      await expect(s.tether.send('ro:1', 'during').accepted).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, message: expect.stringMatching(readOnly) });
      const res = await s.post('/v1/sessions/ro%3A2/messages', { prompt: 'during' });
      expect(res.status).toBe(503);
      expect((await json(res)).error).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, message: expect.stringMatching(readOnly) });
      expect(fx.mock.requests.length).toBe(requests);
      expect(agentChildren()).toEqual(agents);
      // Reads still work: what was accepted is all there.
      expect(await journal(s.tether, 'ro:1')).toEqual(before);

      await s.app.close();
      await s.tether.close({ graceMs: 1_000 });
      disk.repair();

      store = openSqliteStore({ path });
      expect(integrity(store)).toBe('ok');
      s = await startServer({ db: path }, { store }, fx);
      try {
        expect(await journal(s.tether, 'ro:1')).toEqual(before);
        const again = await s.tether.send('ro:1', 'what was the number?').result;
        expect(again.text).toBe('Reply #2: what was the number?');
        expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toBe('remember the number 7');
      } finally {
        await s.app.close();
        await s.tether.close({ graceMs: 1_000 });
      }
    });
  });
});
