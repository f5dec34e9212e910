import { join } from 'node:path';
import { createTether } from '../../src/broker/create-tether.js';
import { benchFixture } from '../lib/fixture.js';
import { RawSdkConversation } from '../lib/raw-sdk.js';
import { summarize } from '../lib/stats.js';
import { pairedRatios, PhaseLog, rotate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const WARMUP = 5;
const ROUNDS = 90;

/**
 * 1. A warm turn through Tether vs the same turn on a raw Agent SDK streaming-input query.
 * Each conversation stays open in its own warm Claude process for the whole benchmark; turns
 * rotate between the sides, each timed from send to result. A second Tether on
 * `synchronous NORMAL` runs alongside as a diagnostic: the difference is the cost of the
 * fsyncs of FULL.
 */
export const warmVsSdk: Benchmark = {
  name: 'warm-vs-sdk',
  title: 'Warm turn: Tether vs raw SDK streaming input',
  async run(ctx) {
    const fx = await benchFixture('warm-sdk');
    const common = { env: fx.env, defaultCwd: fx.cwd, logLevel: 'silent' as const, janitorIntervalSec: 0, spares: 0, maxLive: 2 };
    const tether = await createTether({ ...common, db: join(fx.dir, 'tether.db') });
    const normal = await createTether({ ...common, db: join(fx.dir, 'normal.db'), sqliteSynchronous: 'NORMAL' });
    const log = new RunnerLog(tether);
    const normalLog = new RunnerLog(normal);
    const raw = new RawSdkConversation({ binary: fx.binary, cwd: fx.cwd, env: fx.env });
    const tetherMs: number[] = [];
    const normalMs: number[] = [];
    const rawMs: number[] = [];
    const phases = new PhaseLog();
    try {
      // Start the three processes and let them settle (first turns are cold, not measured).
      for (let i = 0; i < WARMUP; i++) {
        await raw.turn(`warm-up ${i}`);
        await timedTurn(tether, log, 'bench:warm', `warm-up ${i}`);
        await timedTurn(normal, normalLog, 'bench:warm', `warm-up ${i}`);
      }
      await rotate(ROUNDS, [
        async (i) => {
          const turn = await timedTurn(tether, log, 'bench:warm', `tether ${i}`);
          if (turn.runner !== 'warm') throw new Error(`turn ${i} ran on a ${turn.runner} runner, not warm`);
          tetherMs.push(turn.ms);
          phases.add(turn.phases);
        },
        async (i) => {
          const started = performance.now();
          await raw.turn(`raw ${i}`);
          rawMs.push(performance.now() - started);
        },
        async (i) => {
          const turn = await timedTurn(normal, normalLog, 'bench:warm', `normal ${i}`);
          if (turn.runner !== 'warm') throw new Error(`NORMAL turn ${i} ran on a ${turn.runner} runner, not warm`);
          normalMs.push(turn.ms);
        },
      ]);
      ctx.log(`tether median ${summarize(tetherMs).median.toFixed(1)} ms (NORMAL ${summarize(normalMs).median.toFixed(1)} ms), raw median ${summarize(rawMs).median.toFixed(1)} ms`);
    } finally {
      log.stop();
      normalLog.stop();
      await raw.close();
      await tether.close({ graceMs: 2_000 });
      await normal.close({ graceMs: 2_000 });
      await fx.cleanup();
    }
    const t = summarize(tetherMs);
    const b = summarize(rawMs);
    const n = summarize(normalMs);
    const phaseSummaries = Object.fromEntries(Object.entries(phases.series).map(([k, v]) => [`tetherPhase.${k}Ms`, summarize(v)]));
    return {
      rows: [
        row({
          label: '1. warm turn vs raw SDK streaming input',
          tether: latencyFigure(t),
          baseline: latencyFigure(b),
          ratioDefinition: 'Tether / raw SDK (medians)',
          ratio: t.median / b.median,
          goal: { on: 'ratio', op: '<=', target: 1.15, text: '≤ 1.15×' },
        }),
      ],
      summaries: {
        tetherMs: t,
        rawSdkMs: b,
        tetherSynchronousNormalMs: n,
        pairedRatioTetherOverRaw: summarize(pairedRatios(tetherMs, rawMs)),
        pairedRatioNormalOverRaw: summarize(pairedRatios(normalMs, rawMs)),
        ...phaseSummaries,
      },
      raw: { tetherMs, rawSdkMs: rawMs, tetherSynchronousNormalMs: normalMs, tetherPhasesMs: phases.series },
      checks: { rounds: ROUNDS, warmup: WARMUP, tetherRunner: 'warm on every measured turn', normalOverRawRatio: Math.round((n.median / b.median) * 1000) / 1000 },
      notes: [
        'tetherSynchronousNormalMs: the same Tether on sqliteSynchronous NORMAL (WAL commits without fsync), a diagnostic side interleaved with the other two; the gap to tetherMs is what the fsyncs of FULL cost per turn.',
        'tetherPhase.*: where a Tether turn spends its time, from its events: accept (send → turn.queued: preflight + enqueueTurn), start (→ turn.started: acquireLease + pool), firstDelta (agent until it streams), finish (rest of the agent turn + finishTurn), deliver (→ result).',
      ],
    };
  },
};
