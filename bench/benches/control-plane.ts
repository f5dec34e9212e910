import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { summarize } from '../lib/stats.js';
import { row, type Benchmark } from '../lib/types.js';

const KEYS = 1_000;
const SLICE_MS = 500;
const SLICES = 12;
const FRAME_PROBE = 20;
const OWNER = 'bench-owner';

/**
 * 5. Control plane throughput on SQLite: get-or-create + lease + complete cycles through the
 * store port (`enqueueTurn` with the lease, as the broker does on a quiet session -> `finishTurn`;
 * synchronous FULL, a file) vs a
 * raw better-sqlite3 durable loop on the same kind of file (WAL, synchronous FULL, one
 * `UPDATE … SET n = n + 1` per transaction). The sides alternate in half-second slices.
 * Diagnostic: the same store on synchronous NORMAL (no fsync at commit) as a third side, and
 * the WAL frames (4 KiB pages) each side writes per cycle.
 */
export const controlPlane: Benchmark = {
  name: 'control-plane',
  title: 'Control plane cycles/s on SQLite vs raw durable UPDATE loop',
  async run(ctx) {
    const dir = join(ctx.tmp, 'control-plane');
    mkdirSync(dir, { recursive: true });
    const store = openSqliteStore({ path: join(dir, 'tether.db'), synchronous: 'FULL' });
    const normalStore = openSqliteStore({ path: join(dir, 'normal.db'), synchronous: 'NORMAL' });
    const raw = new Database(join(dir, 'raw.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.exec('CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
    const seed = raw.prepare('INSERT INTO counters (id, n) VALUES (?, 0)');
    raw.transaction(() => {
      for (let i = 0; i < KEYS; i++) seed.run(i);
    })();
    const update = raw.prepare('UPDATE counters SET n = n + 1 WHERE id = ?');
    const rawTx = raw.transaction((id: number) => update.run(id));

    let cycle = 0;
    let normalCycle = 0;
    const phase = { enqueue: [] as number[], acquire: [] as number[], finish: [] as number[] };
    const tetherCycle = async (timed: boolean, on: Store = store): Promise<void> => {
      const key = on === store ? `cp:${cycle++ % KEYS}` : `cp:${normalCycle++ % KEYS}`;
      const t0 = performance.now();
      const { turn, session, lease: granted } = await on.enqueueTurn({
        tenant: 'default',
        key,
        backend: 'claude',
        config: { cwd: dir },
        labels: {},
        prompt: 'hello',
        owner: OWNER,
        turnId: randomUUID(),
        newSessionId: randomUUID(),
        onBusy: 'queue',
        maxQueue: 16,
        idleTimeoutMs: 3_600_000,
        maxSessions: 1_000_000,
        onLimit: 'evict-lru',
        // As the broker does: on a quiet session the lease comes with the journal entry.
        leaseTtlMs: 30_000,
      });
      const t1 = performance.now();
      let lease = granted;
      if (!lease) {
        const got = await on.acquireLease({ sessionId: session.id, turnId: turn.id, owner: OWNER, ttlMs: 30_000 });
        if (got.status !== 'acquired') throw new Error(`lease not acquired: ${got.status}`);
        lease = got.lease;
      }
      const t2 = performance.now();
      await on.finishTurn({
        lease,
        turnId: turn.id,
        status: 'succeeded',
        text: 'ok',
        usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.0001 },
        context: { tokens: 10, window: 200_000, ratio: 10 / 200_000 },
        agentSessionId: session.agentSessionId ?? randomUUID(),
        idleTimeoutMs: 3_600_000,
      });
      const t3 = performance.now();
      if (timed && on === store) {
        phase.enqueue.push(t1 - t0);
        phase.acquire.push(t2 - t1);
        phase.finish.push(t3 - t2);
      }
    };
    let rawId = 0;
    const rawCycle = (): void => {
      rawTx.immediate(rawId++ % KEYS);
    };

    const slice = async (fn: () => void | Promise<void>): Promise<number> => {
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < SLICE_MS) {
        await fn();
        n++;
      }
      return (n * 1000) / (performance.now() - start);
    };

    const tetherRates: number[] = [];
    const rawRates: number[] = [];
    const normalRates: number[] = [];
    let frames: { tetherPerCycle: number; rawPerTransaction: number };
    try {
      // Untimed: create every key's session once, warm the files and statement caches.
      for (let i = 0; i < KEYS; i++) await tetherCycle(false);
      for (let i = 0; i < KEYS; i++) await tetherCycle(false, normalStore);
      for (let i = 0; i < KEYS; i++) rawCycle();
      const sides = [
        async () => tetherRates.push(await slice(() => tetherCycle(true))),
        async () => rawRates.push(await slice(rawCycle)),
        async () => normalRates.push(await slice(() => tetherCycle(false, normalStore))),
      ];
      for (let s = 0; s < SLICES; s++) {
        for (let k = 0; k < sides.length; k++) await sides[(k + s) % sides.length]!();
      }
      const stats = await store.stats();
      if (stats.turns.succeeded !== cycle) throw new Error(`store counted ${stats.turns.succeeded} succeeded turns, ran ${cycle}`);

      // WAL frames written per cycle: empty the WAL, run a few cycles, count its frames.
      const walFrames = (db: Database.Database): number => (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log;
      store.connection.pragma('wal_checkpoint(TRUNCATE)');
      for (let i = 0; i < FRAME_PROBE; i++) await tetherCycle(false);
      const tetherFrames = walFrames(store.connection);
      raw.pragma('wal_checkpoint(TRUNCATE)');
      for (let i = 0; i < FRAME_PROBE; i++) rawCycle();
      const rawFrames = walFrames(raw);
      frames = { tetherPerCycle: tetherFrames / FRAME_PROBE, rawPerTransaction: rawFrames / FRAME_PROBE };
      ctx.log(`tether ${summarize(tetherRates).median.toFixed(0)} cycles/s (NORMAL ${summarize(normalRates).median.toFixed(0)}), raw ${summarize(rawRates).median.toFixed(0)} updates/s; WAL frames per cycle ${frames.tetherPerCycle} vs ${frames.rawPerTransaction}`);
    } finally {
      await store.close();
      await normalStore.close();
      raw.close();
    }
    const t = summarize(tetherRates);
    const b = summarize(rawRates);
    const phases = { enqueueMs: summarize(phase.enqueue), acquireMs: summarize(phase.acquire), finishMs: summarize(phase.finish) };
    return {
      rows: [
        row({
          label: '5. control plane: get-or-create + lease + complete (SQLite, FULL)',
          tether: { value: t.median, unit: 'cycles/s', detail: `min ${t.min.toFixed(0)}` },
          baseline: { value: b.median, unit: 'UPDATE tx/s', detail: `min ${b.min.toFixed(0)}` },
          ratioDefinition: `Tether cycles/s / raw transactions/s (medians of ${SLICE_MS} ms slices)`,
          ratio: t.median / b.median,
          goal: { on: 'ratio', op: '>=', target: 0.5, text: '≥ 0.5×' },
        }),
      ],
      summaries: { tetherCyclesPerSec: t, rawUpdatesPerSec: b, tetherSynchronousNormalCyclesPerSec: summarize(normalRates), ...phases },
      raw: { tetherCyclesPerSec: tetherRates, rawUpdatesPerSec: rawRates, tetherSynchronousNormalCyclesPerSec: normalRates },
      checks: {
        keys: KEYS,
        cycles: cycle,
        transactionsPerTetherCycle: 2,
        walFramesPerTetherCycle: frames.tetherPerCycle,
        walFramesPerRawTransaction: frames.rawPerTransaction,
        sliceMs: SLICE_MS,
        slicesPerSide: SLICES,
      },
      notes: [
        'A Tether cycle is two store transactions, as the broker runs a turn on a quiet session: enqueueTurn (journal + lease in one commit) and finishTurn, each BEGIN IMMEDIATE … COMMIT with synchronous FULL, so two WAL fsyncs; the raw loop commits (and fsyncs) once. Both of Tether\'s are needed: an accepted prompt is durable before it runs, and its outcome after.',
        'tetherSynchronousNormalCyclesPerSec: the same cycles on a store with synchronous NORMAL (WAL commits without fsync): the CPU cost of a cycle without the disk.',
        'enqueueMs / acquireMs / finishMs: each store call of a cycle on the FULL store (their medians hide the fsync stalls; their means do not).',
      ],
    };
  },
};
