import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { summarizeCpuProfile } from '../lib/cpu-profile.js';
import { summarize } from '../lib/stats.js';
import { row, type Benchmark, type ResultRow } from '../lib/types.js';

const RUNS = 7;
const SIZES = [100_000, 1_000_000] as const;
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'restart-child.js');

interface ChildReport {
  /** Parent's clock: spawn until the child's report line arrived. */
  wallMs: number;
  bootMs: number;
  importMs: number;
  createMs: number;
  getMs: number;
  readyMs: number;
  maxRssKiB: number;
}

/**
 * Fills a Tether database with `count` idle live sessions (one succeeded turn each) with raw SQL
 * in one transaction, after the store itself created the schema. Sessions were active in the last
 * day and expire in 30 days; the counters row says exactly what the rows hold, so the janitor's
 * first pass (expiry, the cap, recovery) has nothing to do.
 */
export function populate(path: string, count: number, cwd: string): void {
  openSqliteStore({ path }).close().catch(() => undefined);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const now = Date.now();
  const config = JSON.stringify({ cwd });
  db.transaction(() => {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
       INSERT INTO sessions (id, tenant, key, backend, agent_session_id, status, live, latest, generation, config, labels,
         turns, turn_seq, queued, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
         context_tokens, context_window, context_ratio, created_at, last_active_at, expires_at)
       SELECT printf('s-%09d', i), 'default', printf('bench:%09d', i), 'claude', printf('a-%09d', i), 'idle', 1, 1, 1,
         @config, '{"bench":"restart"}', 1, 1, 0, 1000, 50, 0, 0, 300, 1000, 200000, 0.005,
         @now - 86400000 + i, @now - 86400000 + i * 86400000 / @count, @now + 30 * 86400000
       FROM n`,
    ).run({ count, config, now });
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
       INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, epoch, text,
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
         context_tokens, context_window, context_ratio, created_at, started_at, ended_at)
       SELECT printf('t-%09d', i), printf('s-%09d', i), 'default', printf('bench:%09d', i), 1, 'hello', 'succeeded',
         'bench:1:0:00000000', 1, 'Reply #1: hello', 1000, 50, 0, 0, 300, 1000, 200000, 0.005,
         @now - 86400000 + i, @now - 86400000 + i, @now - 86400000 + i
       FROM n`,
    ).run({ count, now });
    db.prepare(
      `INSERT INTO counters (tenant, live, created, turns_succeeded, input_tokens, output_tokens, cost_micros)
       VALUES ('default', @count, @count, @count, @count * 1000, @count * 50, @count * 300)`,
    ).run({ count });
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function runChild(db: string, maxSessions: number, key: string, extraArgs: string[] = []): Promise<ChildReport> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...extraArgs, CHILD, db, String(maxSessions), key], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let report: ChildReport | null = null;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!report && out.includes('\n')) {
        const wallMs = performance.now() - started;
        report = { wallMs, ...(JSON.parse(out.slice(0, out.indexOf('\n'))) as Omit<ChildReport, 'wallMs'>) };
      }
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || !report) reject(new Error(`restart child exited ${code}: ${err.slice(-1000)}`));
      else resolve(report);
    });
  });
}

/**
 * 6. Restart to ready with 100 k and 1 M stored sessions: a new Node process opens Tether on
 * the database and reads one session; timed from spawn until it reports, with its peak RSS.
 * The baseline is the same process on an empty database, runs interleaved.
 */
export const restart: Benchmark = {
  name: 'restart',
  title: 'Restart to ready with 100 k and 1 M stored sessions',
  async run(ctx) {
    const dir = join(ctx.tmp, 'restart');
    mkdirSync(dir, { recursive: true });
    const dbs: Record<string, { path: string; count: number }> = { empty: { path: join(dir, 'empty.db'), count: 0 } };
    const populateMs: Record<string, number> = {};
    openSqliteStore({ path: dbs.empty!.path }).close().catch(() => undefined);
    for (const size of SIZES) {
      const path = join(dir, `sessions-${size}.db`);
      const t0 = performance.now();
      populate(path, size, dir);
      populateMs[String(size)] = Math.round(performance.now() - t0);
      ctx.log(`populated ${size} sessions in ${populateMs[String(size)]} ms`);
      dbs[String(size)] = { path, count: size };
    }
    // The empty baseline reads a key that exists: one session through the store.
    const { openStore } = await import('../../src/store/open-store.js');
    const seedStore = openStore({ db: dbs.empty!.path });
    await seedStore.enqueueTurn({
      tenant: 'default', key: 'bench:000000001', backend: 'claude', config: { cwd: dir }, labels: {}, prompt: 'hello', owner: 'gone:1:0:0',
      turnId: 'seed-turn', newSessionId: 'seed-session', onBusy: 'queue', maxQueue: 16, idleTimeoutMs: 0, maxSessions: 0, onLimit: 'evict-lru',
    });
    await seedStore.abandonTurn('seed-turn', { code: 'INTERRUPTED', message: 'seed' });
    await seedStore.close();

    const reports: Record<string, ChildReport[]> = { empty: [], ...Object.fromEntries(SIZES.map((s) => [String(s), [] as ChildReport[]])) };
    const order = ['empty', ...SIZES.map(String)];
    for (let r = 0; r < RUNS; r++) {
      const round = r % 2 === 0 ? order : [...order].reverse();
      for (const name of round) {
        const { path, count } = dbs[name]!;
        const key = `bench:${String(Math.max(1, Math.floor(count / 2))).padStart(9, '0')}`;
        reports[name]!.push(await runChild(path, Math.max(1_000, count), count === 0 ? 'bench:000000001' : key));
      }
    }

    // One profiled start at 1 M: where the time goes.
    const profDir = join(dir, 'profile');
    const big = dbs[String(SIZES[SIZES.length - 1])]!;
    await runChild(big.path, big.count, 'bench:000000001', ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const profFile = existsSync(profDir) ? readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    const profile = profFile ? summarizeCpuProfile(JSON.parse(readFileSync(join(profDir, profFile), 'utf8'))) : null;
    rmSync(profDir, { recursive: true, force: true });

    // The runs changed nothing: every stored session is still live, and the counters agree.
    const integrity: Record<string, { fileMiB: number; live: number; notLive: number; countersLive: number }> = {};
    for (const size of SIZES) {
      const { path } = dbs[String(size)]!;
      const db = new Database(path, { readonly: true });
      const live = (db.prepare('SELECT count(*) AS n FROM sessions WHERE live = 1').get() as { n: number }).n;
      const notLive = (db.prepare('SELECT count(*) AS n FROM sessions WHERE live = 0').get() as { n: number }).n;
      const countersLive = (db.prepare('SELECT coalesce(sum(live), 0) AS n FROM counters').get() as { n: number }).n;
      db.close();
      integrity[String(size)] = { fileMiB: Math.round(statSync(path).size / 2 ** 20), live, notLive, countersLive };
      if (live !== size || notLive !== 0 || countersLive !== size) throw new Error(`the ${size}-session database changed: ${JSON.stringify(integrity[String(size)])}`);
    }

    const summaries: Record<string, ReturnType<typeof summarize>> = {};
    for (const name of order) {
      const list = reports[name]!;
      for (const field of ['wallMs', 'importMs', 'createMs', 'getMs', 'readyMs', 'maxRssKiB'] as const) {
        summaries[`${name}.${field}`] = summarize(list.map((x) => x[field]));
      }
    }
    const base = summaries['empty.wallMs']!;
    const baseRss = summaries['empty.maxRssKiB']!.median / 1024;
    const rows: ResultRow[] = [];
    for (const size of SIZES) {
      const wall = summaries[`${size}.wallMs`]!;
      const rss = summaries[`${size}.maxRssKiB`]!.median / 1024;
      const label = size >= 1_000_000 ? `${size / 1_000_000} M` : `${size / 1_000} k`;
      const at1M = size >= 1_000_000;
      rows.push(
        row({
          label: `6. restart to ready (+ first get), ${label} sessions: time`,
          tether: { value: wall.median, unit: 'ms', detail: `p90 ${wall.p90}; create ${summaries[`${size}.createMs`]!.median}, get ${summaries[`${size}.getMs`]!.median}` },
          baseline: { value: base.median, unit: 'ms (empty db)', detail: `p90 ${base.p90}` },
          ratioDefinition: `${label} / empty database (medians)`,
          ratio: wall.median / base.median,
          goal: { on: 'tether', op: '<', target: 1000, text: at1M ? '< 1 s' : '< 1 s (goal is set at 1 M)' },
        }),
        row({
          label: `6. restart to ready, ${label} sessions: peak RSS`,
          tether: { value: Math.round(rss * 10) / 10, unit: 'MiB' },
          baseline: { value: Math.round(baseRss * 10) / 10, unit: 'MiB (empty db)' },
          ratioDefinition: `${label} / empty database (medians)`,
          ratio: rss / baseRss,
          goal: { on: 'tether', op: '<', target: 150, text: at1M ? '< 150 MB' : '< 150 MB (goal is set at 1 M)' },
        }),
      );
    }
    ctx.log(`ready: empty ${base.median.toFixed(0)} ms, ${SIZES.map((s) => `${s}: ${summaries[`${s}.wallMs`]!.median.toFixed(0)} ms / ${(summaries[`${s}.maxRssKiB`]!.median / 1024).toFixed(0)} MiB`).join(', ')}`);
    return {
      rows,
      summaries,
      raw: { reports, populateMs },
      checks: { runsPerDatabase: RUNS, databases: integrity, profileAt1M: profile },
      notes: [
        'Times are from spawn() of a new node process until it printed its report (after createTether and one get); node start-up (bootMs) is included.',
        'Each database holds that many idle live sessions, one succeeded turn each; the files are in the page cache (just written), as on a warm restart.',
      ],
    };
  },
};
