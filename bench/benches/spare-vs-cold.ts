import { join } from 'node:path';
import type { Tether } from '../../src/broker/api.js';
import { createTether } from '../../src/broker/create-tether.js';
import { ManualClock } from '../../src/domain/clock.js';
import { benchFixture, waitFor } from '../lib/fixture.js';
import { RawSdkConversation, RawSpare } from '../lib/raw-sdk.js';
import { summarize } from '../lib/stats.js';
import { PhaseLog, rotate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const ROUNDS = 16;

/**
 * 4. The first turn of a new session on a parked spare (`spares: 1`) vs a cold start
 * (`spares: 0`). Two Tethers share one fixture; before every measured send the spare side has
 * exactly its parked spare and nothing else, and the cold side no process at all (earlier
 * sessions are hibernated with a ManualClock and `gc()`, untimed).
 * Diagnostic sides, interleaved: the same first turn on the raw SDK, claiming a `prewarm()`
 * spare vs a cold `query()`, which bounds what any broker can get from a spare.
 */
export const spareVsCold: Benchmark = {
  name: 'spare-vs-cold',
  title: 'First turn of a new session: prewarmed spare vs cold start',
  async run(ctx) {
    const fx = await benchFixture('spare');
    const clock = new ManualClock(Date.now());
    const common = { env: fx.env, defaultCwd: fx.cwd, logLevel: 'silent' as const, janitorIntervalSec: 0, maxLive: 4, liveIdleSec: 1, clock };
    const withSpare = await createTether({ ...common, db: join(fx.dir, 'spare.db'), spares: 1 });
    const without = await createTether({ ...common, db: join(fx.dir, 'cold.db'), spares: 0 });
    const spareLog = new RunnerLog(withSpare);
    const coldLog = new RunnerLog(without);
    const spareMs: number[] = [];
    const coldMs: number[] = [];
    const spareWaitMs: number[] = [];
    const rawSpareMs: number[] = [];
    const rawColdMs: number[] = [];
    const rawSpareReparkMs: number[] = [];
    const sparePhases = new PhaseLog();
    const coldPhases = new PhaseLog();

    /** Hibernates idle runners; waits until only the parked spare (or nothing) is left. */
    const settle = async (): Promise<void> => {
      clock.advance(2_000);
      await withSpare.gc();
      await without.gc();
      const w0 = performance.now();
      await waitFor('the spare side to hold just its parked spare', async () => {
        const r = (await withSpare.stats()).runners;
        return r.spares === 1 && r.live === 1;
      }, 30_000, 5);
      spareWaitMs.push(performance.now() - w0);
      await waitFor('the cold side to hold no process', async () => (await without.stats()).runners.live === 0, 10_000, 5);
    };
    const measure = async (tether: Tether, log: RunnerLog, key: string, expected: 'spare' | 'cold', into: number[], phases?: PhaseLog): Promise<void> => {
      await settle();
      const turn = await timedTurn(tether, log, key, `hello ${key}`);
      if (turn.runner !== expected) throw new Error(`${key} started on a ${turn.runner} runner, expected ${expected}`);
      if (turn.result.text !== `Reply #1: hello ${key}`) throw new Error(`${key} answered "${turn.result.text}"`);
      into.push(turn.ms);
      phases?.add(turn.phases);
    };
    /** A raw SDK spare's first turn; with `repark`, the next spare is parked meanwhile, as Tether does. */
    const rawSpare = async (i: number, repark: boolean, into: number[]): Promise<void> => {
      await settle();
      const spare = await RawSpare.park({ binary: fx.binary, env: fx.env });
      let next: Promise<RawSpare> | null = null;
      try {
        const started = performance.now();
        const first = spare.firstTurn(fx.cwd, `raw spare ${i}`);
        if (repark) next = RawSpare.park({ binary: fx.binary, env: fx.env });
        const result = await first;
        into.push(performance.now() - started);
        if (!('result' in result) || !result.result.startsWith('Reply #1: raw spare')) throw new Error(`raw spare answered ${JSON.stringify(result).slice(0, 200)}`);
      } finally {
        await spare.close();
        if (next) await (await next).close();
      }
    };
    const rawCold = async (i: number): Promise<void> => {
      await settle();
      const started = performance.now();
      const conversation = new RawSdkConversation({ binary: fx.binary, cwd: fx.cwd, env: fx.env });
      try {
        await conversation.turn(`raw cold ${i}`);
        rawColdMs.push(performance.now() - started);
      } finally {
        await conversation.close();
      }
    };
    try {
      // One of each, not measured: the first process start of a run pays for cold caches.
      await measure(withSpare, spareLog, 'warmup:spare', 'spare', []);
      await measure(without, coldLog, 'warmup:cold', 'cold', []);
      await rotate(ROUNDS, [
        (i) => measure(withSpare, spareLog, `spare:${i}`, 'spare', spareMs, sparePhases),
        (i) => measure(without, coldLog, `cold:${i}`, 'cold', coldMs, coldPhases),
        (i) => rawSpare(i, false, rawSpareMs),
        (i) => rawSpare(i, true, rawSpareReparkMs),
        rawCold,
      ]);
      ctx.log(`spare median ${summarize(spareMs).median.toFixed(1)} ms, cold median ${summarize(coldMs).median.toFixed(1)} ms; raw SDK: spare ${summarize(rawSpareMs).median.toFixed(1)} ms (${summarize(rawSpareReparkMs).median.toFixed(1)} ms while parking the next), cold ${summarize(rawColdMs).median.toFixed(1)} ms`);
    } finally {
      spareLog.stop();
      coldLog.stop();
      await withSpare.close({ graceMs: 2_000 });
      await without.close({ graceMs: 2_000 });
      await fx.cleanup();
    }
    const t = summarize(spareMs);
    const b = summarize(coldMs);
    return {
      rows: [
        row({
          label: '4. first turn of a new session: spare vs cold',
          tether: latencyFigure(t),
          baseline: latencyFigure(b),
          ratioDefinition: 'spare / cold (medians)',
          ratio: t.median / b.median,
          goal: { on: 'ratio', op: '<=', target: 0.6, text: '≤ 0.6×' },
        }),
      ],
      summaries: {
        spareMs: t,
        coldMs: b,
        rawSdkSpareMs: summarize(rawSpareMs),
        rawSdkColdMs: summarize(rawColdMs),
        rawSdkSpareWhileParkingNextMs: summarize(rawSpareReparkMs),
        ...Object.fromEntries(Object.entries(sparePhases.series).map(([k, v]) => [`sparePhase.${k}Ms`, summarize(v)])),
        ...Object.fromEntries(Object.entries(coldPhases.series).map(([k, v]) => [`coldPhase.${k}Ms`, summarize(v)])),
        spareReparkUntimedMs: summarize(spareWaitMs),
      },
      raw: { spareMs, coldMs, rawSdkSpareMs: rawSpareMs, rawSdkColdMs: rawColdMs, rawSdkSpareWhileParkingNextMs: rawSpareReparkMs, sparePhasesMs: sparePhases.series, coldPhasesMs: coldPhases.series, spareReparkUntimedMs: spareWaitMs },
      checks: {
        rounds: ROUNDS,
        runners: 'spare side: spare on every measured turn; cold side: cold on every one',
        rawSdkSpareOverColdRatio: Math.round((summarize(rawSpareMs).median / summarize(rawColdMs).median) * 1000) / 1000,
        rawSdkSpareWhileParkingNextOverColdRatio: Math.round((summarize(rawSpareReparkMs).median / summarize(rawColdMs).median) * 1000) / 1000,
      },
      notes: [
        'The spare side parks its next spare while the measured turn runs (that is how Tether works), so that start-up competes for the 2 cores inside the measurement.',
        'Raw SDK diagnostics, interleaved with the two Tether sides: rawSdkSpareMs claims a prewarm() spare parked beforehand with nothing else running; rawSdkSpareWhileParkingNextMs does the same while parking the next spare at claim time, as Tether does; rawSdkColdMs is a cold query().',
      ],
    };
  },
};
