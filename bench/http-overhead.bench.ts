/**
 * HTTP overhead of one turn: the same turn against the mock Messages API, through the daemon's
 * JSON route vs the library directly, in one process and one run, interleaved. Each side keeps
 * its own conversation so both grow alike. Prints the medians and their ratio, and writes them to
 * bench/results/http-overhead.json.
 *
 *   npx vitest bench --run bench/http-overhead.bench.ts        (BENCH_TURNS=10 for fewer pairs)
 *
 * A second bench measures the HTTP layer alone on a read (GET /v1/sessions/:key vs tether.get),
 * where no agent jitter hides it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, bench, describe } from 'vitest';
import { loadConfig } from '../src/config.js';
import { buildServer } from '../src/server/app.js';
import { agentFixture } from '../test/helpers/agent-fixture.js';

/** Interleaved pairs measured: the agent's own jitter (IQR ~15-30 ms) hides a few ms at 10 pairs. */
const TURNS = Number(process.env.BENCH_TURNS ?? 100);
const options = { iterations: TURNS, time: 0, warmupIterations: 2, warmupTime: 0 };

const fx = await agentFixture();
const tether = await fx.open();
const config = loadConfig({ db: fx.dbPath, defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent', janitorIntervalSec: 0 }, fx.env);
const app = await buildServer(tether, config, { logger: false, cwd: fx.dir });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

const samples = { library: [] as number[], http: [] as number[], libraryRead: [] as number[], httpRead: [] as number[] };
const READS = 200;
let n = 0;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const libraryTurn = async (): Promise<void> => {
  const t0 = performance.now();
  await tether.send('bench:library', `turn ${++n}`).result;
  samples.library.push(performance.now() - t0);
};

const httpTurn = async (): Promise<void> => {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/sessions/bench%3Ahttp/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `turn ${++n}` }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.json();
  samples.http.push(performance.now() - t0);
};

describe('one turn against the mock Messages API', () => {
  // Interleaved, alternating which goes first: drift (warm caches, a busy machine) hits both alike.
  bench(
    'library turn + HTTP turn, interleaved',
    async () => {
      if (n % 4 === 0) {
        await libraryTurn();
        await httpTurn();
      } else {
        await httpTurn();
        await libraryTurn();
      }
    },
    options,
  );

  bench(
    'read: tether.get + GET /v1/sessions/:key, interleaved',
    async () => {
      let t0 = performance.now();
      await tether.get('bench:library');
      samples.libraryRead.push(performance.now() - t0);
      t0 = performance.now();
      await (await fetch(`${url}/v1/sessions/bench%3Alibrary`)).json();
      samples.httpRead.push(performance.now() - t0);
    },
    { iterations: READS, time: 0, warmupIterations: 20, warmupTime: 0 },
  );
});

afterAll(async () => {
  // The warm-up runs are recorded too; the medians are of the measured runs only.
  const library = median(samples.library.slice(-TURNS));
  const http = median(samples.http.slice(-TURNS));
  const quartiles = (xs: number[]): [number, number] => {
    const q = [...xs].sort((a, b) => a - b);
    return [Number(q[Math.floor(q.length / 4)]!.toFixed(1)), Number(q[Math.floor((3 * q.length) / 4)]!.toFixed(1))];
  };
  const libraryRead = median(samples.libraryRead.slice(-READS));
  const httpRead = median(samples.httpRead.slice(-READS));
  const result = {
    turns: TURNS,
    libraryMedianMs: Number(library.toFixed(2)),
    httpMedianMs: Number(http.toFixed(2)),
    overheadMs: Number((http - library).toFixed(2)),
    ratio: Number((http / library).toFixed(3)),
    libraryIqrMs: quartiles(samples.library.slice(-TURNS)),
    httpIqrMs: quartiles(samples.http.slice(-TURNS)),
    reads: READS,
    readLibraryMedianMs: Number(libraryRead.toFixed(3)),
    readHttpMedianMs: Number(httpRead.toFixed(3)),
    at: new Date().toISOString(),
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/http-overhead.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `\nHTTP overhead per turn: library median ${result.libraryMedianMs} ms (IQR ${result.libraryIqrMs.join('-')}), ` +
      `HTTP median ${result.httpMedianMs} ms (IQR ${result.httpIqrMs.join('-')}) → ${result.overheadMs >= 0 ? '+' : ''}${result.overheadMs} ms, ` +
      `ratio ${result.ratio}× (${TURNS} interleaved pairs)\n` +
      `HTTP layer alone (a read): tether.get ${result.readLibraryMedianMs} ms vs GET /v1/sessions/:key ${result.readHttpMedianMs} ms (median of ${READS})\n`,
  );
  await app.close();
  await fx.cleanup();
});
