/**
 * Runs the benchmarks: `npm run bench` runs all of them, `npm run bench -- <name|number>…`
 * some. Results go to bench/results/results.json (every raw measurement) and results.md.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentChildren } from '../test/helpers/processes.js';
import { approvals } from './benches/approvals.js';
import { codex } from './benches/codex.js';
import { coldVsResume } from './benches/cold-vs-resume.js';
import { concurrency } from './benches/concurrency.js';
import { controlPlane } from './benches/control-plane.js';
import { dashboard } from './benches/dashboard.js';
import { eventDelivery } from './benches/event-delivery.js';
import { fleet } from './benches/fleet.js';
import { restart } from './benches/restart.js';
import { spareVsCold } from './benches/spare-vs-cold.js';
import { teams } from './benches/teams.js';
import { warmVsResume } from './benches/warm-vs-resume.js';
import { warmVsSdk } from './benches/warm-vs-sdk.js';
import { tableRow, writeResults } from './lib/report.js';
import type { Benchmark, BenchResult } from './lib/types.js';

const SUITE: Benchmark[] = [warmVsSdk, warmVsResume, coldVsResume, spareVsCold, controlPlane, restart, concurrency, fleet, eventDelivery, approvals, codex, teams, dashboard];

/** The repository: the first directory above this (compiled) file that holds bench/tsconfig.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bench', 'tsconfig.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository (bench/tsconfig.json) above the compiled benchmarks');
    dir = up;
  }
  return dir;
}

const RESULTS_DIR = resolve(repoRoot(), 'bench', 'results');

function select(args: string[]): Benchmark[] {
  if (args.length === 0) return SUITE;
  return args.map((arg) => {
    const byNumber = /^\d+$/.test(arg) ? SUITE[Number(arg) - 1] : undefined;
    const found = byNumber ?? SUITE.find((b) => b.name === arg);
    if (!found) {
      console.error(`unknown benchmark "${arg}"; choose from: ${SUITE.map((b, i) => `${i + 1} ${b.name}`).join(', ')}`);
      process.exit(2);
    }
    return found;
  });
}

async function main(): Promise<number> {
  const chosen = select(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const results: BenchResult[] = [];
  const failed: string[] = [];
  const suiteStart = performance.now();
  try {
    for (const bench of chosen) {
      const log = (message: string): void => console.log(`[${bench.name}] ${message}`);
      log(`${bench.title}…`);
      const startedAt = new Date().toISOString();
      const t0 = performance.now();
      try {
        const outcome = await bench.run({ log, tmp });
        const leftovers = agentChildren();
        if (leftovers.length > 0) {
          outcome.notes.push(`${leftovers.length} agent process(es) were still running after the benchmark closed Tether.`);
          for (const pid of leftovers) process.kill(pid, 'SIGKILL');
        }
        const result: BenchResult = { name: bench.name, title: bench.title, startedAt, durationSec: (performance.now() - t0) / 1000, ...outcome };
        results.push(result);
        for (const r of result.rows) log(`${r.met === null ? 'info' : r.met ? 'met' : 'NOT MET'}: ${r.label}: ratio ${r.ratio?.toFixed(3)} (goal ${r.goal.text})`);
        log(`done in ${result.durationSec.toFixed(1)} s`);
      } catch (err) {
        failed.push(bench.name);
        console.error(`[${bench.name}] failed:`, err);
        for (const pid of agentChildren()) process.kill(pid, 'SIGKILL');
      }
      // Results so far are written after each benchmark: a later crash loses nothing.
      writeResults(RESULTS_DIR, results, SUITE.map((b) => b.name));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
  console.log('');
  console.log('| benchmark | Tether | baseline | ratio | goal | met |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results.flatMap((b) => b.rows)) console.log(tableRow(r));
  console.log('');
  console.log(`${results.length} benchmark(s) in ${((performance.now() - suiteStart) / 1000).toFixed(0)} s; results in ${RESULTS_DIR}/results.{json,md}`);
  if (failed.length > 0) console.error(`failed: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
