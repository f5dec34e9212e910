/**
 * The process whose start-up benchmark 6 times: opens Tether on an existing database, reads one
 * session, prints one JSON line, closes. Spawned by restart.ts; argv: <db> <maxSessions> <key>.
 * createTether is imported dynamically so that module loading is timed on its own.
 */
import { readFileSync } from 'node:fs';

const [db, maxSessions, key] = process.argv.slice(2);
if (!db || !maxSessions || !key) throw new Error('usage: restart-child <db> <maxSessions> <key>');

const t0 = performance.now(); // since the process started (performance.timeOrigin)
const { createTether } = await import('../../src/broker/create-tether.js');
const t1 = performance.now();
const tether = await createTether({
  db,
  maxSessions: Number(maxSessions),
  logLevel: 'silent',
  spares: 0,
  maxLive: 4,
  env: { PATH: process.env.PATH, HOME: process.env.HOME },
});
const t2 = performance.now();
const session = await tether.get(key);
const t3 = performance.now();
if (!session) throw new Error(`no session for ${key}`);
// Peak RSS of this process image: VmHWM. (getrusage's maxRSS is no use here: Linux carries the
// high-water mark of the forked copy of the parent across exec, so it reports the parent's size.)
const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
const rss = hwm ? Number(hwm[1]) : Number.NaN;
process.stdout.write(
  `${JSON.stringify({ bootMs: t0, importMs: t1 - t0, createMs: t2 - t1, getMs: t3 - t2, readyMs: t3, maxRssKiB: rss, status: session.status })}\n`,
);
await tether.close();
