/**
 * What only the PostgreSQL adapter has, against the machine's PostgreSQL: the migration lock,
 * cross-node races, the database clock, error mapping. Every test gets a fresh schema, dropped
 * afterwards. (The shared behaviour suite is postgres.test.ts.)
 *
 * Without a reachable server the file skips and says why, unless TETHER_REQUIRE_POSTGRES=1 (CI),
 * where it fails.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { openStore } from '../../src/store/open-store.js';
import { LATEST_VERSION, MIGRATIONS, mapPgError, migrate, openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.js';
import type { ImportSessionInput } from '../../src/store/store.js';
import { closeQuietly, enqueueInput } from './fixtures.js';
import { postgresHarness } from './postgres-harness.js';

const { url: URL, skip, adminClient, freshSchema } = await postgresHarness('postgres-adapter.test');

describe.skipIf(skip)('PostgreSQL adapter', () => {
  const opened: PostgresStore[] = [];
  const open = (options: Partial<Parameters<typeof openPostgresStore>[0]> & { schema: string }): PostgresStore => {
    const store = openPostgresStore({ url: URL, poolSize: 4, ...options });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await closeQuietly(store);
    vi.useRealTimers();
  });

  describe('migrations', () => {
    it('migrates a fresh schema once when several nodes open it at the same time', async () => {
      const schema = freshSchema();
      const stores = Array.from({ length: 4 }, () => open({ schema }));
      await Promise.all(stores.map((s) => s.stats()));
      const { rows } = await (await adminClient()).query<{ version: number }>(`SELECT version FROM "${schema}".tether_migrations ORDER BY version`);
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
      expect(rows.at(-1)?.version).toBe(LATEST_VERSION);
      await stores[0]!.enqueueTurn(enqueueInput());
      expect((await stores[3]!.getLiveSession('default', 'race'))?.turnSeq).toBe(1);
    });

    it('refuses a schema written by a newer Tether, naming both versions', async () => {
      const schema = freshSchema();
      await open({ schema }).stats();
      await (await adminClient()).query(`INSERT INTO "${schema}".tether_migrations (version) VALUES ($1)`, [LATEST_VERSION + 1]);
      const store = open({ schema });
      const err = await store.stats().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect((err as Error).message).toContain(`schema version ${LATEST_VERSION + 1}`);
      expect((err as Error).message).toContain(`up to ${LATEST_VERSION}`);
      expect((err as Error).message).toMatch(/upgrade Tether/);
    });

    it('keeps the one-live-session rule in the schema itself', async () => {
      const schema = freshSchema();
      const store = open({ schema });
      await store.enqueueTurn(enqueueInput());
      const err = await (await adminClient())
        .query(
          `INSERT INTO "${schema}".sessions (id, tenant, key, backend, status, latest, generation, config, labels, created_at, last_active_at)
           VALUES ($1, 'default', 'race', 'claude', 'idle', false, 2, '{}', '{}', 0, 0)`,
          [randomUUID()],
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '23505', constraint: 'sessions_one_live' });
    });

    it('brings a v4 schema with sessions to v5: empty metadata, zero turn time, nothing else changed', async () => {
      const schema = freshSchema();
      const client = await adminClient();
      await migrate(client, schema, 'test', MIGRATIONS.filter((m) => m.version <= 4));
      await client.query('RESET search_path');
      await client.query(
        `INSERT INTO "${schema}".sessions (id, tenant, key, backend, status, latest, generation, config, labels, created_at, last_active_at)
         VALUES ('s-old', 'default', 'old', 'claude', 'idle', true, 1, '{"cwd":"/tmp"}', '{"user":"ada"}', 5, 5)`,
      );
      await client.query(`INSERT INTO "${schema}".counters (tenant, live, created, turns_succeeded) VALUES ('default', 1, 1, 4)`);
      const store = open({ schema, clock: new ManualClock(10_000) });
      expect(await store.getLiveSession('default', 'old')).toMatchObject({ id: 's-old', labels: { user: 'ada' }, metadata: {} });
      const stats = await store.stats();
      expect(stats.turnTime).toEqual({ totalMs: 0, turns: 0 });
      expect(stats.turns.succeeded).toBe(4);
      const next = await store.updateSession('default', 'old', { metadata: { taskId: 'T-1' } });
      expect(next.metadata).toEqual({ taskId: 'T-1' });
    });
  });

  describe('metadata and quotas', () => {
    it('round-trips metadata deep-equal (nesting, unicode, big and small numbers) and searches by JSON type', async () => {
      const store = open({ schema: freshSchema(), clock: new ManualClock(1_000) });
      const metadata = {
        taskId: 'T-1',
        nested: { list: [1, 'two', { three: [null, true] }], empty: {} },
        text: 'é ✓ 🧵 "quoted" \\ back',
        big: 2 ** 53 - 1,
        small: 1.5e-7,
        huge: 1e21,
        negative: -0.25,
        zero: 0,
        no: false,
        nothing: null,
        s3: '3',
        b: 'z',
        a: 'y',
      };
      const created = await store.enqueueTurn(enqueueInput({ key: 'meta', metadata }));
      expect(created.session.metadata).toEqual(metadata);
      expect((await store.getLiveSession('default', 'meta'))?.metadata).toEqual(metadata);
      const keys = async (m: Record<string, string | number | boolean>) => (await store.listSessions({ tenant: 'default', metadata: m })).map((s) => s.key);
      expect(await keys({ zero: 0, no: false, taskId: 'T-1' })).toEqual(['meta']);
      expect(await keys({ s3: 3 })).toEqual([]);
      expect(await keys({ zero: false })).toEqual([]);
      expect(await keys({ no: 0 })).toEqual([]);
      expect(await keys({ big: 2 ** 53 - 1 })).toEqual(['meta']);
      expect(await keys({ small: 1.5e-7, huge: 1e21 })).toEqual(['meta']);
      expect(await keys({ nothing: Number.NaN })).toEqual([]);
      expect(await keys({ missing: false })).toEqual([]);
    });

    it('keeps a label quota across nodes creating and relabelling sessions at once', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      await Promise.all([a.stats(), b.stats()]);
      const quotas = { user: 3 };
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? a : b).enqueueTurn(enqueueInput({ key: `q${i}`, labels: { user: 'ada' }, labelQuotas: quotas })),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'LIMIT_REACHED' });
      // Sessions of another value race to take the last places by relabelling.
      await Promise.all(Array.from({ length: 4 }, (_, i) => a.enqueueTurn(enqueueInput({ key: `r${i}`, labels: { user: 'bob' } }))));
      const quota4 = { user: 4 };
      const moves = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) => (i % 2 === 0 ? a : b).updateSession('default', `r${i}`, { labels: { user: 'ada' }, labelQuotas: quota4 })),
      );
      expect(moves.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await a.listSessions({ tenant: 'default', labels: { user: 'ada' } })).toHaveLength(4);
    });

    it('serializes an import with first messages to the same key on other nodes', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      await Promise.all([a.stats(), b.stats()]);
      const bundle = (over: Partial<ImportSessionInput> = {}): ImportSessionInput => ({
        tenant: 'default',
        key: 'race',
        newSessionId: randomUUID(),
        backend: 'claude',
        agentSessionId: 'conv',
        config: { cwd: '/tmp' },
        labels: {},
        metadata: { from: 'import' },
        usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.01 },
        context: { tokens: 10, window: 100, ratio: 0.1 },
        turns: Array.from({ length: 50 }, (_, i) => ({
          prompt: `p${i}`,
          status: 'succeeded' as const,
          text: `r${i}`,
          error: null,
          usage: null,
          createdAt: i,
          startedAt: i,
          endedAt: i + 1,
        })),
        replace: false,
        maxSessions: 1000,
        onLimit: 'evict-lru',
        idleTimeoutMs: 0,
        ...over,
      });
      const results = await Promise.allSettled([
        a.importSession(bundle()),
        ...Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).enqueueTurn(enqueueInput({ prompt: `m${i}` }))),
      ]);
      const [imported, ...sent] = results;
      for (const r of sent) expect(r.status).toBe('fulfilled');
      const live = await b.getLiveSession('default', 'race');
      expect(live?.generation).toBe(1);
      const seqs = (await b.listTurns({ tenant: 'default', key: 'race' })).map((t) => t.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      if (imported!.status === 'fulfilled') {
        // The import came first: the messages queued behind its history.
        expect(live).toMatchObject({ metadata: { from: 'import' }, agentSessionId: 'conv' });
        expect(seqs).toHaveLength(56);
      } else {
        expect(imported!.reason).toMatchObject({ code: 'INVALID_INPUT' });
        expect(seqs).toHaveLength(6);
      }
      expect((await a.stats()).sessions).toMatchObject({ live: 1, created: 1 });
    });
  });

  describe('several nodes', () => {
    it('renews leases on a connection of their own, so a pool busy with other writes does not hold them up', async () => {
      const schema = freshSchema();
      const store = open({ schema, poolSize: 2 });
      const enq = await store.enqueueTurn(enqueueInput({ key: 'held', owner: 'node-a', leaseTtlMs: 30_000 }));
      const lease = enq.lease!;
      expect(lease).toBeTruthy();
      // Another session's writer takes the turns table; the next enqueues wait for it on both of
      // the pool's connections.
      const admin = await adminClient();
      await admin.query('BEGIN');
      await admin.query(`LOCK TABLE "${schema}".turns IN EXCLUSIVE MODE`);
      const blocked = Promise.all(['x', 'y', 'z'].map((key) => store.enqueueTurn(enqueueInput({ key }))));
      try {
        const [renewed] = await store.renewLeases([lease], 30_000);
        expect(renewed).toMatchObject({ sessionId: lease.sessionId, token: lease.token });
      } finally {
        await admin.query('ROLLBACK');
      }
      expect((await blocked).every((r) => r.created)).toBe(true);
    });

    it('two stores (two pools) racing 20 first messages for one key make one session, seqs 1..20', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      await Promise.all([a.stats(), b.stats()]);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).enqueueTurn(enqueueInput({ prompt: `p${i}` }))));
      expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.map((r) => r.turn.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await b.getLiveSession('default', 'race')).toMatchObject({ queued: 20, turnSeq: 20 });
      expect((await a.stats()).sessions).toMatchObject({ live: 1, created: 1 });
      expect((await a.stats()).turns.queued).toBe(20);
    });

    it('keeps the session cap across nodes creating sessions at once', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).enqueueTurn(enqueueInput({ key: `k${i}`, maxSessions: 5, onLimit: 'reject' }))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'LIMIT_REACHED' });
      expect((await a.stats()).sessions.live).toBe(5);
    });

    it('grants a contested lease to one node only', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      const enq = await a.enqueueTurn(enqueueInput());
      const tries = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).acquireLease({ sessionId: enq.session.id, turnId: enq.turn.id, owner: `n${i}`, ttlMs: 30_000 })),
      );
      expect(tries.filter((t) => t.status === 'acquired')).toHaveLength(1);
      expect((await b.getSession(enq.session.id))?.lease?.epoch).toBe(1);
    });

    it('runs an exclusive section on one node at a time', async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      let release!: () => void;
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const held = a.runExclusive('janitor', async () => {
        started();
        await new Promise<void>((resolve) => (release = resolve));
        return 'a';
      });
      await running;
      expect(await b.runExclusive('janitor', async () => 'b')).toBeNull();
      release();
      expect(await held).toBe('a');
      expect(await b.runExclusive('janitor', async () => 'b')).toBe('b');
    });

    it('survives the server ending the connection that holds an exclusive section, and drops it', async () => {
      const schema = freshSchema();
      const store = open({ schema });
      await store.stats();
      const key = JSON.stringify([schema, 'exclusive', 'janitor']);
      const admin = await adminClient();
      const lockHolder = async (): Promise<number | undefined> =>
        (
          await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
            [key],
          )
        ).rows[0]?.pid;
      const result = await store.runExclusive('janitor', async () => {
        const pid = await lockHolder();
        expect(pid).toBeTypeOf('number');
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        // The checked-out connection sees its socket close while no query runs on it: pg emits
        // 'error' on it, which without a listener would end this process.
        for (let i = 0; i < 100 && (await lockHolder()) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 50));
        return 'ran';
      });
      expect(result).toBe('ran');
      // The dead connection went out of the pool: the store and the section work as before.
      expect(await store.runExclusive('janitor', async () => 'again')).toBe('again');
      expect((await store.stats()).sessions.live).toBe(0);
    });

    it("wakes a node's listeners when another node appends events, not for its own", async () => {
      const schema = freshSchema();
      const a = open({ schema });
      const b = open({ schema });
      await Promise.all([a.stats(), b.stats()]);
      let woken = 0;
      let own = 0;
      const woke = new Promise<void>((resolve) =>
        b.onEventsAppended(() => {
          woken += 1;
          resolve();
        }),
      );
      a.onEventsAppended(() => (own += 1));
      // Give the LISTEN connections a moment to be up before the NOTIFY.
      for (let i = 0; i < 50 && woken === 0; i++) {
        await a.appendEvents([{ tenant: 'default', turnId: 't', seq: i + 1, origin: 'a', event: { type: 'text.delta', i } }]);
        await Promise.race([woke, new Promise((r) => setTimeout(r, 50))]);
      }
      expect(woken).toBeGreaterThan(0);
      expect(own).toBe(0);
    });
  });

  describe('clock', () => {
    it('uses the database clock when no clock is injected, not the process clock', async () => {
      const schema = freshSchema();
      const store = open({ schema });
      await store.stats();
      const dbNow = async (): Promise<number> =>
        Number((await (await adminClient()).query<{ now: string }>(`SELECT floor(extract(epoch from clock_timestamp()) * 1000)::bigint AS now`)).rows[0]?.now);
      // The process clock now says 2001; the database's does not.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2001-01-01T00:00:00Z'));
      const before = await dbNow();
      const now = await store.now();
      const r = await store.enqueueTurn(enqueueInput({ idleTimeoutMs: 1000 }));
      const after = await dbNow();
      expect(now).toBeGreaterThanOrEqual(before);
      expect(r.session.createdAt).toBeGreaterThanOrEqual(now);
      expect(r.session.createdAt).toBeLessThanOrEqual(after);
      expect(r.session.expiresAt).toBe(r.session.createdAt + 1000);
      expect(Math.abs(r.session.createdAt - Date.now())).toBeGreaterThan(365 * 24 * 3_600_000);
    });

    it('uses an injected clock when given one', async () => {
      const store = open({ schema: freshSchema(), clock: new ManualClock(42_000) });
      expect(await store.now()).toBe(42_000);
      expect((await store.enqueueTurn(enqueueInput())).session.createdAt).toBe(42_000);
    });
  });

  describe('errors', () => {
    it('gives STORE_UNAVAILABLE for an unreachable server, naming it and never the password', async () => {
      const store = openPostgresStore({ url: 'postgres://tether:s3cret-pw@127.0.0.1:1/tether', schema: 'x', connectTimeoutMs: 2000 });
      opened.push(store);
      const err = await store.stats().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      const message = (err as Error).message;
      expect(message).toContain('127.0.0.1:1/tether');
      expect(message).toMatch(/check/);
      expect(message).not.toContain('s3cret-pw');
      expect(JSON.stringify((err as { details?: unknown }).details)).not.toContain('s3cret-pw');
      // Each call tries again, and fails the same way.
      await expect(store.enqueueTurn(enqueueInput())).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });

    it('maps server conditions to STORE_UNAVAILABLE with what to do, and scrubs the password', () => {
      const target = { where: 'db:5432/t', user: 'u', secret: 'hunter2' };
      const pgError = (code: string, message = 'boom'): Error => Object.assign(new Error(message), { code });
      const cases: Array<[string, RegExp]> = [
        ['53300', /too many connections/],
        ['53100', /disk is full/],
        ['25006', /read-only/],
        ['57P03', /starting up/],
        ['28P01', /refused the login of user "u"/],
        ['3D000', /database does not exist/],
        ['08006', /lost the connection/],
        ['ECONNREFUSED', /cannot reach PostgreSQL at db:5432\/t/],
        ['ETIMEDOUT', /cannot reach/],
      ];
      for (const [code, message] of cases) {
        const mapped = mapPgError(pgError(code, 'password hunter2 leaked?'), target);
        expect(mapped, code).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect((mapped as Error).message, code).toMatch(message);
        expect((mapped as Error).message, code).not.toContain('hunter2');
      }
      expect(mapPgError(new Error('timeout exceeded when trying to connect'), target)).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(mapPgError(pgError('42P01'), target)).toMatchObject({ code: 'INTERNAL' });
      expect(mapPgError(pgError('22021'), target)).toMatchObject({ code: 'INVALID_INPUT' });
      const plain = new Error('not pg');
      expect(mapPgError(plain, target)).toBe(plain);
    });

    it('validates its options', () => {
      expect(() => openPostgresStore({ url: URL, schema: 'Bad-Name' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(() => openPostgresStore({ url: '' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(() => openPostgresStore({ url: URL, poolSize: 1 })).toThrow(/poolSize/);
    });
  });

  describe('openStore', () => {
    it('picks PostgreSQL when databaseUrl is set', async () => {
      const schema = freshSchema();
      const store = openStore({ databaseUrl: URL, databaseSchema: schema, clock: new ManualClock(7_000), db: ':memory:' });
      try {
        expect(store.kind).toBe('postgres');
        expect(await store.now()).toBe(7_000);
        await store.enqueueTurn(enqueueInput());
        const { rows } = await (await adminClient()).query(`SELECT count(*)::int AS n FROM "${schema}".sessions`);
        expect(rows[0]).toEqual({ n: 1 });
      } finally {
        await store.close();
      }
    });
  });
});
