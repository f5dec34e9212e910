import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTether } from '../../src/broker/create-tether.js';
import { ManualClock } from '../../src/domain/clock.js';
import { claudePrint } from '../lib/claude-p.js';
import { benchFixture, waitFor } from '../lib/fixture.js';
import { summarize } from '../lib/stats.js';
import { alternate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const PAIRS = 20;

/**
 * 3. A cold turn through Tether (the session is hibernated: its warm runner ended after
 * `liveIdleSec`, forced with a ManualClock and `gc()`, and its process has exited before the
 * send) vs `claude -p --resume`. Both resume an existing conversation in a new process.
 */
export const coldVsResume: Benchmark = {
  name: 'cold-vs-resume',
  title: 'Cold (hibernated) turn: Tether vs `claude -p --resume`',
  async run(ctx) {
    const fx = await benchFixture('cold-resume');
    const clock = new ManualClock(Date.now());
    const tether = await createTether({
      db: join(fx.dir, 'tether.db'),
      env: fx.env,
      defaultCwd: fx.cwd,
      logLevel: 'silent',
      janitorIntervalSec: 0,
      spares: 0,
      maxLive: 2,
      liveIdleSec: 1,
      clock,
    });
    const log = new RunnerLog(tether);
    const tetherMs: number[] = [];
    const printMs: number[] = [];
    const hibernateMs: number[] = [];
    try {
      let sessionId = (await claudePrint({ binary: fx.binary, cwd: fx.cwd, env: fx.env, prompt: 'first', sessionId: randomUUID() })).sessionId;
      await timedTurn(tether, log, 'bench:cold', 'first');
      await alternate(
        PAIRS,
        async (i) => {
          // Hibernate the session (not timed): its runner is idle past liveIdleSec.
          const h0 = performance.now();
          clock.advance(2_000);
          const gc = await tether.gc();
          if (gc.hibernated !== 1) throw new Error(`gc hibernated ${gc.hibernated} runners, expected 1`);
          await waitFor('the hibernated runner to exit', async () => (await tether.stats()).runners.live === 0, 10_000, 5);
          hibernateMs.push(performance.now() - h0);
          const turn = await timedTurn(tether, log, 'bench:cold', `tether ${i}`);
          if (turn.runner !== 'cold') throw new Error(`turn ${i} ran on a ${turn.runner} runner, not cold`);
          if (!turn.result.text.endsWith(`tether ${i}`)) throw new Error(`Tether answered "${turn.result.text}"`);
          tetherMs.push(turn.ms);
        },
        async (i) => {
          const result = await claudePrint({ binary: fx.binary, cwd: fx.cwd, env: fx.env, prompt: `print ${i}`, resume: sessionId });
          if (!result.text.endsWith(`print ${i}`)) throw new Error(`claude -p answered "${result.text}"`);
          sessionId = result.sessionId;
          printMs.push(result.resultMs);
        },
      );
      ctx.log(`tether cold median ${summarize(tetherMs).median.toFixed(1)} ms, claude -p --resume median ${summarize(printMs).median.toFixed(1)} ms`);
    } finally {
      log.stop();
      await tether.close({ graceMs: 2_000 });
      await fx.cleanup();
    }
    const t = summarize(tetherMs);
    const b = summarize(printMs);
    return {
      rows: [
        row({
          label: '3. cold (hibernated) turn vs `claude -p --resume`',
          tether: latencyFigure(t),
          baseline: latencyFigure(b),
          ratioDefinition: 'Tether / claude -p (medians)',
          ratio: t.median / b.median,
          goal: { on: 'ratio', op: '<=', target: 1.05, text: '≤ 1.05×' },
        }),
      ],
      summaries: { tetherColdMs: t, claudePrintResultMs: b, hibernateUntimedMs: summarize(hibernateMs) },
      raw: { tetherColdMs: tetherMs, claudePrintResultMs: printMs, hibernateUntimedMs: hibernateMs },
      checks: { pairs: PAIRS, tetherRunner: 'cold on every measured turn, after its previous process had exited' },
      notes: [],
    };
  },
};
