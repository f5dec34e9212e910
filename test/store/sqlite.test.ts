import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { openStore } from '../../src/store/open-store.js';
import {
  LATEST_VERSION,
  MIGRATIONS,
  mapSqliteError,
  migrate,
  openSqliteStore,
  schemaVersion,
  type SqliteStore,
} from '../../src/store/sqlite/index.js';
import { closeQuietly, enqueueInput } from './fixtures.js';
import { describeStoreBehaviour } from './store-behaviour.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-store-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeStoreBehaviour('sqlite file', async (clock) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-suite-'));
  const path = join(dir, 'nested', 'tether.db');
  let store = openSqliteStore({ path, clock });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = openSqliteStore({ path, clock });
      return store;
    },
    cleanup: async () => {
      await closeQuietly(store);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeStoreBehaviour('sqlite :memory:', async (clock) => {
  const store = openSqliteStore({ path: ':memory:', clock });
  return { store, cleanup: () => closeQuietly(store) };
});

describe('SQLite adapter', () => {
  const opened: SqliteStore[] = [];
  const open = (options: Parameters<typeof openSqliteStore>[0]): SqliteStore => {
    const store = openSqliteStore(options);
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await closeQuietly(store);
  });

  describe('connection', () => {
    it('creates the directory and sets WAL, synchronous FULL, busy_timeout and foreign keys', () => {
      const path = join(tempDir(), 'a', 'b', 'tether.db');
      const store = open({ path, busyTimeoutMs: 1234 });
      expect(existsSync(path)).toBe(true);
      expect(store.kind).toBe('sqlite');
      const db = store.connection;
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    });

    it('applies the synchronous mode asked for', () => {
      expect(open({ path: join(tempDir(), 'n.db'), synchronous: 'NORMAL' }).connection.pragma('synchronous', { simple: true })).toBe(1);
      expect(open({ path: join(tempDir(), 'x.db'), synchronous: 'EXTRA' }).connection.pragma('synchronous', { simple: true })).toBe(3);
      expect(() => openSqliteStore({ path: ':memory:', synchronous: 'SOMETIMES' as never })).toThrow(/synchronous/);
    });

    it("is 'memory' for :memory:", () => {
      expect(open({ path: ':memory:' }).kind).toBe('memory');
    });

    it('enforces one live session per key in the schema itself', async () => {
      const store = open({ path: ':memory:' });
      const first = await store.enqueueTurn(enqueueInput());
      const db = store.connection;
      expect(() =>
        db
          .prepare(
            `INSERT INTO sessions (id, tenant, key, backend, status, live, latest, generation, config, labels, created_at, last_active_at)
             VALUES (?, 'default', 'race', 'claude', 'idle', 1, 0, 2, '{}', '{}', 0, 0)`,
          )
          .run(randomUUID()),
      ).toThrow(/UNIQUE/);
      expect(() => db.prepare(`UPDATE sessions SET live = 0 WHERE id = ?`).run(first.session.id)).toThrow(/CHECK/);
    });
  });

  describe('migrations', () => {
    it('records the schema version in user_version and opens an up-to-date file without migrating', async () => {
      const path = join(tempDir(), 'm.db');
      const store = open({ path });
      expect(LATEST_VERSION).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
      expect(schemaVersion(store.connection)).toBe(LATEST_VERSION);
      await store.enqueueTurn(enqueueInput());
      await store.close();
      const again = open({ path });
      expect(schemaVersion(again.connection)).toBe(LATEST_VERSION);
      expect(await again.getLiveSession('default', 'race')).not.toBeNull();
    });

    it('refuses a database written by a newer Tether', () => {
      const path = join(tempDir(), 'future.db');
      const raw = new Database(path);
      raw.pragma(`user_version = ${LATEST_VERSION + 1}`);
      raw.close();
      let error: unknown;
      try {
        openSqliteStore({ path });
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect((error as Error).message).toContain(`schema version ${LATEST_VERSION + 1}`);
      expect((error as Error).message).toMatch(/upgrade Tether/);
    });

    it('brings a v5 file with turns to v6: no turn regenerates another or was asked to stop', async () => {
      const path = join(tempDir(), 'v5.db');
      const raw = new Database(path);
      migrate(raw, path, MIGRATIONS.filter((m) => m.version <= 5));
      raw.exec(`INSERT INTO sessions (id, tenant, key, backend, status, live, latest, generation, config, labels, created_at, last_active_at)
                VALUES ('s-old', 'default', 'old', 'claude', 'idle', 1, 1, 1, '{"cwd":"/tmp"}', '{}', 5, 5)`);
      raw.exec(`INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, created_at) VALUES ('t-old', 's-old', 'default', 'old', 1, 'hi', 'succeeded', 'x', 5)`);
      raw.close();
      const store = open({ path });
      expect(schemaVersion(store.connection)).toBe(LATEST_VERSION);
      // The columns themselves, not just a mapping that would read their absence the same way.
      expect(store.connection.prepare(`SELECT regenerates, interrupt_requested FROM turns WHERE id = 't-old'`).get()).toEqual({
        regenerates: null,
        interrupt_requested: 0,
      });
      expect(await store.getTurn('t-old')).toMatchObject({ prompt: 'hi', regenerates: null, interruptRequested: false });
    });

    it('applies pending steps in order, all or nothing', () => {
      const db = new Database(':memory:');
      try {
        const steps = [
          { version: 1, up: 'CREATE TABLE a (x INTEGER);' },
          { version: 2, up: 'CREATE TABLE b (y INTEGER);' },
          { version: 3, up: 'CREATE TABLE c (z INTEGER); THIS IS NOT SQL;' },
        ];
        expect(() => migrate(db, ':memory:', steps)).toThrow();
        expect(schemaVersion(db)).toBe(0);
        expect(db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get()).toEqual({ n: 0 });
        expect(migrate(db, ':memory:', steps.slice(0, 1))).toBe(1);
        expect(migrate(db, ':memory:', steps.slice(0, 2))).toBe(2);
        expect(schemaVersion(db)).toBe(2);
      } finally {
        db.close();
      }
    });
  });

  describe('concurrency', () => {
    it('two stores on one file racing first messages for one key make one session', async () => {
      const path = join(tempDir(), 'race.db');
      const a = open({ path });
      const b = open({ path });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).enqueueTurn(enqueueInput({ prompt: `p${i}` }))),
      );
      expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.map((r) => r.turn.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect((await b.stats()).sessions).toMatchObject({ live: 1, created: 1 });
    });

    it('closes after the calls already asked for, and refuses the ones asked for after it', async () => {
      const store = open({ path: join(tempDir(), 'closing.db') });
      // The first call starts at once and holds the connection across its awaits; the others queue.
      const enqueued = store.enqueueTurn(enqueueInput());
      const read = store.getLiveSession('default', 'race');
      const closed = store.close();
      const late = store.stats();
      await closed;
      expect((await enqueued).created).toBe(true);
      expect((await read)?.turnSeq).toBe(1);
      await expect(late).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      const again = open({ path: store.path });
      expect((await again.getLiveSession('default', 'race'))?.turnSeq).toBe(1);
    });

    describe('another process holding the write lock', () => {
      const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
      let child: ChildProcess | undefined;

      /** Starts `node -e` that takes the write lock with BEGIN IMMEDIATE and holds it for holdMs. */
      async function holdWriteLock(path: string, holdMs: number): Promise<ChildProcess> {
        const script = `
          const Database = require(${JSON.stringify(betterSqlite)});
          const db = new Database(process.env.DB_PATH);
          db.exec('BEGIN IMMEDIATE');
          process.stdout.write('locked\\n');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.HOLD_MS));
          db.exec('COMMIT');
          db.close();`;
        const proc = spawn(process.execPath, ['-e', script], {
          env: { ...process.env, DB_PATH: path, HOLD_MS: String(holdMs) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child = proc;
        await new Promise<void>((resolve, reject) => {
          proc.stdout?.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('locked')) resolve();
          });
          proc.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
        });
        return proc;
      }

      afterEach(() => {
        if (child && child.exitCode === null) child.kill();
        child = undefined;
      });

      it('gives STORE_UNAVAILABLE with a clear message once busyTimeoutMs has passed', async () => {
        const path = join(tempDir(), 'locked.db');
        const store = open({ path, busyTimeoutMs: 200 });
        await holdWriteLock(path, 1500);
        const started = Date.now();
        const err = await store.enqueueTurn(enqueueInput()).catch((e: unknown) => e);
        const waited = Date.now() - started;
        expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect((err as Error).message).toMatch(/locked by another process/);
        expect((err as Error).message).toMatch(/busyTimeoutMs/);
        expect(waited).toBeGreaterThanOrEqual(150);
        expect(waited).toBeLessThan(1400);
        // Reads are not blocked by a writer in WAL mode, and nothing was written.
        expect(await store.getLiveSession('default', 'race')).toBeNull();
      });

      it('waits for the lock and succeeds within busyTimeoutMs', async () => {
        const path = join(tempDir(), 'waits.db');
        const store = open({ path, busyTimeoutMs: 5000 });
        await holdWriteLock(path, 1000);
        const started = Date.now();
        const r = await store.enqueueTurn(enqueueInput());
        expect(Date.now() - started).toBeGreaterThanOrEqual(500);
        expect(r.created).toBe(true);
      });
    });
  });

  describe('errors', () => {
    it('maps SQLite failures to STORE_UNAVAILABLE with what to do', () => {
      const cases: Array<[string, RegExp]> = [
        ['SQLITE_BUSY', /locked by another process/],
        ['SQLITE_FULL', /disk is full/],
        ['SQLITE_READONLY', /read-only/],
        ['SQLITE_READONLY_DBMOVED', /read-only/],
        ['SQLITE_IOERR_WRITE', /I\/O error/],
        ['SQLITE_NOTADB', /not a usable Tether database/],
      ];
      for (const [code, message] of cases) {
        const mapped = mapSqliteError(new Database.SqliteError('boom', code), '/data/t.db', 5000);
        expect(mapped, code).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect((mapped as Error).message, code).toMatch(message);
      }
      expect(mapSqliteError(new Database.SqliteError('x', 'SQLITE_CONSTRAINT_UNIQUE'), 'p', 1)).toMatchObject({ code: 'INTERNAL' });
      const plain = new Error('not sqlite');
      expect(mapSqliteError(plain, 'p', 1)).toBe(plain);
    });

    it('refuses a file that is not a database', () => {
      const path = join(tempDir(), 'junk.db');
      writeFileSync(path, 'this is not a sqlite database, just some text that is long enough '.repeat(20));
      expect(() => openSqliteStore({ path })).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
    });
  });
});

describe('openStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });

  it('keeps everything in memory when persistence is off or the path is :memory:', async () => {
    const off = openStore({ persistence: false, db: join(dir, 'ignored.db') });
    const mem = openStore({ db: ':memory:' });
    try {
      expect(off.kind).toBe('memory');
      expect(mem.kind).toBe('memory');
      expect(existsSync(join(dir, 'ignored.db'))).toBe(false);
    } finally {
      await off.close();
      await mem.close();
    }
  });

  it('opens the SQLite file it is given, with the injected clock', async () => {
    const clock = new ManualClock(42_000);
    const store = openStore({ db: join(dir, 'sub', 'x.db'), clock, synchronous: 'NORMAL' });
    try {
      expect(store.kind).toBe('sqlite');
      expect(existsSync(join(dir, 'sub', 'x.db'))).toBe(true);
      expect(await store.now()).toBe(42_000);
    } finally {
      await store.close();
    }
  });
});
