import { join } from 'node:path';
import { createTether } from '../../src/broker/create-tether.js';
import type { Tether } from '../../src/broker/api.js';
import { agentChildren } from '../../test/helpers/processes.js';
import { codexBenchFixture, codexExec, pssBytes, RawCodexThread, type CodexBenchFixture } from '../lib/codex.js';
import { summarize } from '../lib/stats.js';
import { rotate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const WARMUP = 3;
const ROUNDS = 20;
/** Live Codex sessions in the memory comparison. */
const SESSIONS = 20;

const MIB = 1024 * 1024;

/**
 * 11. Codex: a warm turn through Tether vs `codex exec resume` per message (the seeds' way), and
 * vs the app-server driven directly with no Tether; then the memory one live Codex session costs
 * when 20 share one app-server process, against one process each.
 */
export const codex: Benchmark = {
  name: 'codex',
  title: 'Codex: warm turn vs `codex exec resume` and vs the raw app-server; memory of shared processes',
  async run(ctx) {
    const fx = await codexBenchFixture('codex');
    const tetherMs: number[] = [];
    const execMs: number[] = [];
    const rawMs: number[] = [];
    let shared: MemoryFigure;
    let separate: MemoryFigure;
    try {
      const open = (threadsPerProcess: number, db: string): Promise<Tether> =>
        createTether({
          db: join(fx.dir, db),
          env: fx.env,
          defaultCwd: fx.cwd,
          codexConfig: fx.codexConfig,
          codexThreadsPerProcess: threadsPerProcess,
          defaultBackend: 'codex',
          logLevel: 'silent',
          janitorIntervalSec: 0,
          spares: 0,
          maxLive: SESSIONS + 2,
        });
      const tether = await open(8, 'latency.db');
      const log = new RunnerLog(tether);
      const execHome = fx.home('exec-home');
      const raw = await RawCodexThread.open(fx, fx.home('raw-home'));
      try {
        let thread = (await codexExec(fx, execHome, 'warm-up 0', null)).threadId;
        for (let i = 0; i < WARMUP; i++) {
          await timedTurn(tether, log, 'bench:codex', `warm-up ${i}`);
          await raw.turn(`warm-up ${i}`);
          if (i > 0) thread = (await codexExec(fx, execHome, `warm-up ${i}`, thread)).threadId;
        }
        await rotate(ROUNDS, [
          async (i) => {
            const turn = await timedTurn(tether, log, 'bench:codex', `tether ${i}`);
            if (turn.runner !== 'warm') throw new Error(`turn ${i} ran on a ${turn.runner} runner, not warm`);
            tetherMs.push(turn.ms);
          },
          async (i) => {
            const result = await codexExec(fx, execHome, `exec ${i}`, thread);
            if (!result.text.endsWith(`exec ${i}`)) throw new Error(`codex exec answered "${result.text}"`);
            execMs.push(result.ms);
          },
          async (i) => {
            rawMs.push(await raw.turn(`raw ${i}`));
          },
        ]);
      } finally {
        log.stop();
        await raw.close();
        await tether.close({ graceMs: 2_000 });
      }
      ctx.log(`tether median ${summarize(tetherMs).median.toFixed(1)} ms, codex exec resume ${summarize(execMs).median.toFixed(1)} ms, raw app-server ${summarize(rawMs).median.toFixed(1)} ms`);

      shared = await memoryOf(fx, await open(SESSIONS, 'shared.db'));
      separate = await memoryOf(fx, await open(1, 'separate.db'));
      ctx.log(`${SESSIONS} sessions: ${shared.processes} process(es) ${(shared.totalBytes / MIB).toFixed(0)} MiB vs ${separate.processes} processes ${(separate.totalBytes / MIB).toFixed(0)} MiB`);
    } finally {
      await fx.cleanup();
    }
    const t = summarize(tetherMs);
    const e = summarize(execMs);
    const r = summarize(rawMs);
    const perShared = shared.totalBytes / SESSIONS / MIB;
    const perSeparate = separate.totalBytes / SESSIONS / MIB;
    return {
      rows: [
        row({
          label: '11a. warm Codex turn vs `codex exec resume` per message',
          tether: latencyFigure(t),
          baseline: latencyFigure(e),
          ratioDefinition: 'speed-up: codex exec resume / Tether (medians)',
          ratio: e.median / t.median,
          goal: { on: 'ratio', op: '>=', target: 5, text: '≥ 5× faster' },
        }),
        row({
          label: '11b. warm Codex turn vs the app-server driven directly',
          tether: latencyFigure(t),
          baseline: latencyFigure(r),
          ratioDefinition: 'Tether / raw app-server (medians)',
          ratio: t.median / r.median,
          goal: { on: 'ratio', op: '<=', target: 1.15, text: '≤ 1.15×' },
        }),
        row({
          label: `11c. memory per live Codex session, ${SESSIONS} sharing one process vs one process each`,
          tether: { value: Math.round(perShared * 10) / 10, unit: 'MiB PSS', detail: `${shared.processes} process` },
          baseline: { value: Math.round(perSeparate * 10) / 10, unit: 'MiB PSS', detail: `${separate.processes} processes` },
          ratioDefinition: 'saving: one process each / shared (per session)',
          ratio: perSeparate / perShared,
          goal: { on: 'none', op: '>=', target: 0, text: 'reported' },
        }),
      ],
      summaries: { tetherMs: t, codexExecResumeMs: e, rawAppServerMs: r },
      raw: { tetherMs, codexExecResumeMs: execMs, rawAppServerMs: rawMs, shared, separate },
      checks: { rounds: ROUNDS, warmup: WARMUP, tetherRunner: 'warm on every measured turn', sessions: SESSIONS },
      notes: [
        'codex exec is timed from spawn until its turn.completed line is on stdout; each run resumes the same thread from its rollout.',
        'raw app-server: Tether\'s JSON-RPC client on one warm thread, timed from turn/start to turn/completed, with no store, journal or queue.',
        'Memory is the proportional set size (PSS, /proc/<pid>/smaps_rollup) of the app-server processes after one turn of each session: pages processes share count once.',
      ],
    };
  },
};

interface MemoryFigure {
  processes: number;
  totalBytes: number;
}

/** One turn for each of SESSIONS keys, then the PSS of this process's app-server children; closes the Tether. */
async function memoryOf(fx: CodexBenchFixture, tether: Tether): Promise<MemoryFigure> {
  try {
    for (let i = 0; i < SESSIONS; i++) await tether.send(`mem:${i}`, `hello ${i}`).result;
    if (fx.mock.pending() !== 0) throw new Error('the mock had replies left');
    const pids = agentChildren(process.pid, 'codex');
    return { processes: pids.length, totalBytes: pids.reduce((sum, pid) => sum + pssBytes(pid), 0) };
  } finally {
    await tether.close({ graceMs: 2_000 });
  }
}
