import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { EnqueueTurnInput } from '../../src/store/store.js';
import { FullDisk, mountRefusal, sh } from '../helpers/fault-disk.js';
import { enqueueInput } from './fixtures.js';

/**
 * Disk full and read-only at the store level, on a real file system of the test's own: a small
 * tmpfs filled to ENOSPC, or remounted read-only (possible only while no Tether holds the file:
 * the kernel answers EBUSY otherwise, see test/broker/store-faults.e2e.test.ts for a disk that
 * turns read-only under an open store). Without the privilege to mount, disk full uses SQLite's
 * `max_page_count`, and the read-only case is skipped, saying why.
 */

const refusal = mountRefusal();
const REAL = refusal === null;

const disks: FullDisk[] = [];
afterEach(() => {
  for (const d of disks.splice(0)) d.dispose();
});

/** A disk of the test's own (a 2 MiB tmpfs where mounting works). */
function disk(): FullDisk {
  const d = new FullDisk(REAL, '2m');
  disks.push(d);
  return d;
}

const enqueue = (prompt: string): EnqueueTurnInput =>
  enqueueInput({ key: 'fault:1', config: { cwd: '/' }, prompt, owner: 'test-owner', maxQueue: 100, idleTimeoutMs: 0, maxSessions: 0, onLimit: 'reject', leaseTtlMs: 30_000 });

/** Over three pages: it cannot fit in space the database already has. */
const BIG = 'x'.repeat(14_000);

describe(`SQLite store on a full disk (${REAL ? 'a tmpfs filled to ENOSPC' : `max_page_count; cannot mount: ${refusal}`})`, () => {
  it('refuses writes with STORE_UNAVAILABLE, keeps every committed row and a whole file, and writes again once space is back', async () => {
    const full = disk();
    const store = openSqliteStore({ path: join(full.dir, 'tether.db') });
    try {
      const first = await store.enqueueTurn(enqueue('first'));
      expect(first.lease).toBeDefined();

      full.fill(store);
      await expect(store.enqueueTurn(enqueue(BIG))).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/disk is full; free some space and retry/),
        details: { sqliteCode: 'SQLITE_FULL' },
      });
      // The running turn's outcome, with a big reply, cannot be written either: it stays running.
      await expect(
        store.finishTurn({ lease: first.lease!, turnId: first.turn.id, status: 'succeeded', text: BIG, idleTimeoutMs: 0 }),
      ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', details: { sqliteCode: 'SQLITE_FULL' } });
      expect(store.connection.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((await store.listTurns({ tenant: 'default', key: 'fault:1' })).map((t) => [t.prompt, t.status])).toEqual([['first', 'running']]);
      expect((await store.stats()).turns).toMatchObject({ queued: 0, running: 1, succeeded: 0 });

      full.free(store);
      await store.finishTurn({ lease: first.lease!, turnId: first.turn.id, status: 'succeeded', text: BIG, idleTimeoutMs: 0 });
      await store.enqueueTurn(enqueue(BIG));
      expect((await store.listTurns({ tenant: 'default', key: 'fault:1' })).map((t) => t.status)).toEqual(['succeeded', 'running']);
      expect(store.connection.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      await store.close();
    }
  });
});

describe('SQLite store on a read-only file system', () => {
  it.skipIf(!REAL)(`refuses to open with STORE_UNAVAILABLE naming the read-only disk, and opens whole once remounted${REAL ? '' : ` (skipped: cannot mount: ${refusal})`}`, async () => {
    const dir = disk().dir;
    const path = join(dir, 'tether.db');
    let store = openSqliteStore({ path });
    await store.enqueueTurn(enqueue('accepted before'));
    await store.close();

    sh('mount', ['-o', 'remount,ro', dir]);
    // Closed cleanly, the WAL database has no -shm file, and a read-only disk cannot create one.
    expect(() => openSqliteStore({ path })).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/file system is read-only; remount it read-write/) }),
    );

    sh('mount', ['-o', 'remount,rw', dir]);
    store = openSqliteStore({ path });
    try {
      expect(store.connection.pragma('integrity_check', { simple: true })).toBe('ok');
      await store.enqueueTurn(enqueue('after'));
      expect((await store.listTurns({ tenant: 'default', key: 'fault:1' })).map((t) => t.prompt)).toEqual(['accepted before', 'after']);
    } finally {
      await store.close();
    }
  });
});
