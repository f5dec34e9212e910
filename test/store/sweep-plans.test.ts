/**
 * The sweep and recovery queries (src/store/sql/sweeps.ts), written once, must use their partial
 * indexes in each adapter's dialect: never a scan of all sessions or turns. Each database is
 * shaped as the indexes expect (mostly closed history, a few live sessions) and its statistics
 * updated; PostgreSQL is also told to avoid sequential scans, so that on tables this small a plan
 * without the index means the index cannot serve the query, not that a scan was cheaper (whether
 * it then sorts a handful of rows or reads them in index order is its cost model's business).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { openPostgresStore, pgDialect } from '../../src/store/postgres/index.js';
import type { Dialect } from '../../src/store/sql/dialect.js';
import { render, type Sql } from '../../src/store/sql/query.js';
import { SWEEPS } from '../../src/store/sql/sweeps.js';
import { openSqliteStore, sqliteDialect } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { POSTGRES_REQUIRED, TEST_DATABASE_URL, postgresUnreachable } from '../helpers/postgres.js';
import { enqueueInput } from './fixtures.js';

/** Mostly closed history, a few live sessions: the shape the indexes are for. */
async function populate(store: Store, sessions: number): Promise<void> {
  for (let i = 0; i < sessions; i++) {
    await store.enqueueTurn(enqueueInput({ key: `k${i}`, idleTimeoutMs: 1000 }));
    if (i % 10 !== 0) {
      await store.abandonTurn((await store.listTurns({ tenant: 'default', key: `k${i}` }))[0]!.id, { code: 'X', message: 'x' });
      await store.closeSession('default', `k${i}`, 'reset');
    }
  }
}

/**
 * Each sweep with the index that must serve it. On PostgreSQL, with tables this small, the
 * planner may serve the expiry sweep from the LRU index, whose predicate it also implies: either
 * proves that `live = true` meets the indexes' `WHERE live`.
 */
function sweeps(d: Dialect, now: number): Array<[string, Sql, RegExp]> {
  return [
    ['expiry', SWEEPS.expiry(d, now, 10), d.name === 'postgres' ? /sessions_(expiry|lru)/ : /sessions_expiry/],
    ['lru', SWEEPS.lru(d, now, 10), /sessions_lru/],
    ['held leases', SWEEPS.heldLeases(d), /sessions_leases/],
    ['queue head', SWEEPS.queueHead('some-session'), /turns_session/],
    ['active turns', SWEEPS.activeTurns(), /turns_active/],
  ];
}

describe('sweep query plans on SQLite', () => {
  it('sweeps use their partial indexes, never a scan of all sessions or turns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-plans-'));
    const clock = new ManualClock();
    const store = openSqliteStore({ path: join(dir, 'plan.db'), clock, synchronous: 'OFF' });
    try {
      await populate(store, 300);
      store.connection.exec('ANALYZE');
      for (const [name, query, index] of sweeps(sqliteDialect, clock.now())) {
        const { text, params } = render(query, sqliteDialect.placeholders);
        const detail = (store.connection.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
        expect(detail.join(' | '), name).toMatch(new RegExp(`USING (COVERING )?INDEX ${index.source}`));
        for (const line of detail) {
          // A full scan of any table (named or aliased), or a sort the index should have spared.
          expect(line, name).not.toMatch(/^SCAN \w+$/);
          expect(line, name).not.toMatch(/TEMP B-TREE/);
        }
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const unreachable = await postgresUnreachable();
if (unreachable !== null && POSTGRES_REQUIRED) throw new Error(`PostgreSQL is unreachable (${unreachable}) and TETHER_REQUIRE_POSTGRES=1`);

describe.skipIf(unreachable !== null)(`sweep query plans on PostgreSQL${unreachable === null ? '' : ` (skipped: unreachable: ${unreachable})`}`, () => {
  const schema = `tether_t_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('sweeps use their partial indexes, never a scan of all sessions or turns', async () => {
    const clock = new ManualClock();
    const store = openPostgresStore({ url: TEST_DATABASE_URL, schema, clock, poolSize: 2 });
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    try {
      await populate(store, 60);
      await client.connect();
      await client.query('ANALYZE sessions; ANALYZE turns');
      await client.query('SET enable_seqscan = off');
      for (const [name, query, index] of sweeps(pgDialect, clock.now())) {
        const { text, params } = render(query, pgDialect.placeholders);
        const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params)).rows.map((r) => r['QUERY PLAN']).join(' | ');
        expect(plan, name).toMatch(new RegExp(`(Index|Index Only|Bitmap Index) Scan (Backward )?(using|on) ${index.source}`));
        expect(plan, name).not.toMatch(/Seq Scan on (sessions|turns)/);
      }
    } finally {
      await client.end().catch(() => undefined);
      await store.close();
    }
  });
});
