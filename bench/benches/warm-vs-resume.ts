import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTether } from '../../src/broker/create-tether.js';
import { claudePrint } from '../lib/claude-p.js';
import { benchFixture } from '../lib/fixture.js';
import { RawSdkConversation } from '../lib/raw-sdk.js';
import { summarize } from '../lib/stats.js';
import { rotate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const WARMUP = 3;
const ROUNDS = 24;

/**
 * 2. A warm turn through Tether vs the seeds' way: a new `claude -p --resume <id> "<prompt>"`
 * process per message (JSON output), timed from spawn until the JSON result is on stdout.
 * Diagnostic, interleaved: a warm raw SDK turn (the best any broker can do), and, for Tether's
 * turns, how long the agent took before, during and after its one API call (from the mock).
 */
export const warmVsResume: Benchmark = {
  name: 'warm-vs-resume',
  title: 'Warm turn: Tether vs `claude -p --resume` per message',
  async run(ctx) {
    const fx = await benchFixture('warm-resume');
    const tether = await createTether({ db: join(fx.dir, 'tether.db'), env: fx.env, defaultCwd: fx.cwd, logLevel: 'silent', janitorIntervalSec: 0, spares: 0, maxLive: 2 });
    const log = new RunnerLog(tether);
    const tetherMs: number[] = [];
    const printMs: number[] = [];
    const printExitMs: number[] = [];
    const rawMs: number[] = [];
    const agentBeforeApiMs: number[] = [];
    const apiMs: number[] = [];
    const afterApiMs: number[] = [];
    const raw = new RawSdkConversation({ binary: fx.binary, cwd: fx.cwd, env: fx.env });
    try {
      let sessionId = (await claudePrint({ binary: fx.binary, cwd: fx.cwd, env: fx.env, prompt: 'warm-up 0', sessionId: randomUUID() })).sessionId;
      for (let i = 0; i < WARMUP; i++) {
        await timedTurn(tether, log, 'bench:warm', `warm-up ${i}`);
        await raw.turn(`warm-up ${i}`);
        if (i > 0) sessionId = (await claudePrint({ binary: fx.binary, cwd: fx.cwd, env: fx.env, prompt: `warm-up ${i}`, resume: sessionId })).sessionId;
      }
      await rotate(ROUNDS, [
        async (i) => {
          const sentAt = Date.now();
          const turn = await timedTurn(tether, log, 'bench:warm', `tether ${i}`);
          const resolvedAt = Date.now();
          if (turn.runner !== 'warm') throw new Error(`turn ${i} ran on a ${turn.runner} runner, not warm`);
          tetherMs.push(turn.ms);
          const request = fx.mock.mainRequests().find((r) => r.lastUserText === `tether ${i}`);
          if (request?.endedAt !== undefined) {
            agentBeforeApiMs.push(request.startedAt - sentAt);
            apiMs.push(request.endedAt - request.startedAt);
            afterApiMs.push(resolvedAt - request.endedAt);
          }
        },
        async (i) => {
          const result = await claudePrint({ binary: fx.binary, cwd: fx.cwd, env: fx.env, prompt: `print ${i}`, resume: sessionId });
          if (!result.text.endsWith(`print ${i}`)) throw new Error(`claude -p answered "${result.text}"`);
          sessionId = result.sessionId;
          printMs.push(result.resultMs);
          printExitMs.push(result.exitMs);
        },
        async (i) => {
          const started = performance.now();
          await raw.turn(`raw ${i}`);
          rawMs.push(performance.now() - started);
        },
      ]);
      ctx.log(`tether median ${summarize(tetherMs).median.toFixed(1)} ms, claude -p --resume median ${summarize(printMs).median.toFixed(1)} ms`);
    } finally {
      log.stop();
      await raw.close();
      await tether.close({ graceMs: 2_000 });
      await fx.cleanup();
    }
    const t = summarize(tetherMs);
    const b = summarize(printMs);
    return {
      rows: [
        row({
          label: '2. warm turn vs `claude -p --resume` per message',
          tether: latencyFigure(t),
          baseline: latencyFigure(b),
          ratioDefinition: 'speed-up: claude -p / Tether (medians)',
          ratio: b.median / t.median,
          goal: { on: 'ratio', op: '>=', target: 20, text: '≥ 20× faster' },
        }),
      ],
      summaries: {
        tetherMs: t,
        claudePrintResultMs: b,
        claudePrintExitMs: summarize(printExitMs),
        rawSdkWarmMs: summarize(rawMs),
        tetherTurnUntilApiCallMs: summarize(agentBeforeApiMs),
        tetherTurnApiCallMs: summarize(apiMs),
        tetherTurnAfterApiCallMs: summarize(afterApiMs),
      },
      raw: { tetherMs, claudePrintResultMs: printMs, claudePrintExitMs: printExitMs, rawSdkWarmMs: rawMs, tetherTurnUntilApiCallMs: agentBeforeApiMs, tetherTurnApiCallMs: apiMs, tetherTurnAfterApiCallMs: afterApiMs },
      checks: {
        rounds: ROUNDS,
        warmup: WARMUP,
        tetherRunner: 'warm on every measured turn',
        rawSdkSpeedupOverClaudePrint: Math.round((b.median / summarize(rawMs).median) * 100) / 100,
      },
      notes: [
        'claude -p is timed to the moment its JSON result is complete on stdout; its exit comes later (see claudePrintExitMs).',
        'rawSdkWarmMs: a warm raw SDK streaming-input turn, interleaved: claude -p / raw SDK is the most any broker on this agent can reach.',
        'tetherTurnUntilApiCallMs / ApiCallMs / AfterApiCallMs: a Tether warm turn split at its one Messages API request as the mock saw it (Date.now(), 1 ms resolution).',
      ],
    };
  },
};
