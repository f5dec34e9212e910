import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AgentBackend } from '../../src/agents/agent.js';
import { createClaudeBackend } from '../../src/agents/claude/index.js';
import { createTether } from '../../src/broker/create-tether.js';
import { loadConfig } from '../../src/config.js';
import type { ApprovalEvent } from '../../src/domain/events.js';
import { buildServer } from '../../src/server/app.js';
import type { MockReply, RecordedRequest } from '../../src/testing/mock-anthropic.js';
import { readSse } from '../../test/server/server-fixture.js';
import { benchFixture, sleep, waitFor } from '../lib/fixture.js';
import { summarize, type Summary } from '../lib/stats.js';
import { alternate, RunnerLog, timedTurn } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark, type Figure } from '../lib/types.js';
import { wrapRuns } from '../lib/wrap-runs.js';

/** Sessions with an approval pending beside the measured one. */
const WAITING = 15;
const SAMPLES = 40;
const PAIRS = 8;

const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const p99Figure = (s: Summary): Figure => ({ value: s.p99, unit: 'ms', detail: `median ${s.median}, n ${s.n}` });

/**
 * 10. Approvals. (a) The delay from the agent asking (Claude Code calls the session's permission
 * callback, stamped as the runner hands the ask to Tether) to an SSE client of `GET /v1/events`
 * parsing its `approval.requested`, with 15 other sessions waiting on a person meanwhile, and with
 * none. (b) Deciding a parked session (its agent process given back): from `decide` to the turn's
 * result, vs a cold turn of a hibernated session, alternated in the same run; both start a Claude
 * process that resumes the conversation and make one model request (the decision is a denial, so
 * the agent answers at once, as a cold turn does).
 */
export const approvals: Benchmark = {
  name: 'approvals',
  title: 'Approvals: approval.requested to an SSE client (16 waiting); a parked session decided vs a cold turn',
  async run(ctx) {
    const fx = await benchFixture('approvals');
    fx.mock.setDefault((req) => replyFor(req, fx.cwd));
    const asked = new Map<string, number>();
    const part = { alone: [] as number[], waiting: [] as number[] };
    const resumeMs: number[] = [];
    const coldMs: number[] = [];

    // (a) Every session keeps its process while it waits (no parking), as a busy bridge's would.
    const config = loadConfig({ db: join(fx.dir, 'a.db'), defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent', janitorIntervalSec: 0 }, fx.env);
    const tether = await createTether({
      db: join(fx.dir, 'a.db'),
      env: fx.env,
      defaultCwd: fx.cwd,
      logLevel: 'silent',
      janitorIntervalSec: 0,
      spares: 0,
      maxLive: WAITING + 1,
      approvals: 'ask',
      approvalParkSec: 3600,
      backends: { claude: stampingAsks(createClaudeBackend({ nice: config.agentNice }), asked) },
    });
    const app = await buildServer(tether, config, { logger: false, cwd: fx.dir });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const stopTail = new AbortController();
    const tail = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events`, {
      headers: { accept: 'text/event-stream' },
      signal: stopTail.signal,
    });
    const received = new Map<string, number>();
    const reading = (async () => {
      for await (const e of readSse(tail)) if (e.event === 'approval.requested') received.set((e.data as ApprovalEvent).toolUseId, hrMs());
    })().catch(() => undefined);
    try {
      const measure = async (into: number[], i: number): Promise<void> => {
        const name = `m${i}-${into === part.alone ? 'a' : 'w'}`;
        const handle = tether.send('bench:measured', `write ${name}`);
        await waitFor('the approval to reach the SSE client', () => received.has(`toolu_${name}`), 30_000, 1);
        into.push(received.get(`toolu_${name}`)! - asked.get(`toolu_${name}`)!);
        const [pending] = await tether.approvals({ key: 'bench:measured', status: 'pending' });
        await tether.decide(pending!.id, { decision: 'allow' });
        await handle.result;
      };
      for (let i = 0; i < SAMPLES / 2; i++) await measure(part.alone, i);
      const waiting = Array.from({ length: WAITING }, (_, i) => tether.send(`bench:waiting:${i}`, `write w${i}`));
      await waitFor('the other sessions to wait on a person', async () => (await tether.approvals({ status: 'pending' })).length === WAITING, 120_000, 50);
      for (let i = 0; i < SAMPLES; i++) await measure(part.waiting, i);
      for (const a of await tether.approvals({ status: 'pending' })) await tether.decide(a.id, { decision: 'deny' });
      await Promise.all(waiting.map((h) => h.result));
      ctx.log(`approval.requested p99 ${summarize(part.waiting).p99} ms with ${WAITING} waiting, ${summarize(part.alone).p99} ms alone`);
    } finally {
      stopTail.abort();
      await reading;
      await app.close();
      await tether.close({ graceMs: 2_000 });
    }

    // (b) Parking at once; hibernation after a second idle.
    const parking = await createTether({
      db: join(fx.dir, 'b.db'),
      env: fx.env,
      defaultCwd: fx.cwd,
      logLevel: 'silent',
      janitorIntervalSec: 0,
      spares: 0,
      maxLive: 2,
      liveIdleSec: 1,
      approvalParkSec: 0,
    });
    const log = new RunnerLog(parking);
    try {
      await timedTurn(parking, log, 'bench:cold', 'first');
      await parking.send('bench:parked', 'first', { approvals: 'ask' }).result;
      /** Both sessions' runners hibernated: each measured turn starts from no process. */
      const hibernateAll = async (): Promise<void> => {
        await sleep(1_100);
        await parking.gc();
        await waitFor('the idle runners to hibernate', async () => (await parking.stats()).runners.live === 0, 10_000, 5);
      };
      await alternate(
        PAIRS,
        async (i) => {
          await hibernateAll();
          const turn = await timedTurn(parking, log, 'bench:cold', `cold ${i}`);
          if (turn.runner !== 'cold') throw new Error(`cold turn ${i} ran on a ${turn.runner} runner`);
          coldMs.push(turn.ms);
        },
        async (i) => {
          await hibernateAll();
          const handle = parking.send('bench:parked', `write p${i}`);
          await waitFor('the turn to park', async () => (await parking.approvals({ status: 'pending' })).length === 1 && (await parking.stats()).runners.live === 0, 30_000, 5);
          const [pending] = await parking.approvals({ status: 'pending' });
          const t0 = performance.now();
          await parking.decide(pending!.id, { decision: 'deny', message: 'not now' });
          const result = await handle.result;
          resumeMs.push(performance.now() - t0);
          if (!result.text.startsWith('done')) throw new Error(`the resumed turn answered "${result.text}"`);
        },
      );
      ctx.log(`parked resume median ${summarize(resumeMs).median} ms, cold turn median ${summarize(coldMs).median} ms`);
    } finally {
      log.stop();
      await parking.close({ graceMs: 2_000 });
      await fx.cleanup();
    }

    const alone = summarize(part.alone);
    const waiting = summarize(part.waiting);
    const resume = summarize(resumeMs);
    const cold = summarize(coldMs);
    return {
      rows: [
        row({
          label: `10a. approval.requested to an SSE client, ${WAITING} other sessions waiting (p99)`,
          tether: p99Figure(waiting),
          baseline: p99Figure(alone),
          ratioDefinition: `p99 with ${WAITING} waiting / p99 alone`,
          ratio: waiting.p99 / alone.p99,
          goal: { on: 'tether', op: '<=', target: 50, text: '≤ 50 ms at p99' },
        }),
        row({
          label: '10b. a parked session decided, to its result, vs a cold (hibernated) turn',
          tether: latencyFigure(resume),
          baseline: latencyFigure(cold),
          ratioDefinition: 'parked resume / cold turn (medians)',
          ratio: resume.median / cold.median,
          goal: { on: 'ratio', op: '<=', target: 1.1, text: '≤ 1.1×' },
        }),
      ],
      summaries: { requestedAloneMs: alone, requestedWaitingMs: waiting, parkedResumeMs: resume, coldTurnMs: cold },
      raw: { requestedAloneMs: part.alone, requestedWaitingMs: part.waiting, parkedResumeMs: resumeMs, coldTurnMs: coldMs },
      checks: { waitingSessions: WAITING, samples: { alone: part.alone.length, waiting: part.waiting.length }, pairs: PAIRS, coldRunner: 'cold on every measured turn' },
      notes: [],
    };
  },
};

/** Prompts `write NAME` get a Write call (id `toolu_NAME`); a tool result or anything else, a short text. */
function replyFor(req: RecordedRequest, cwd: string): MockReply {
  const last = req.body?.messages?.at(-1);
  const afterTool = Array.isArray(last?.content) && last.content.some((b: { type?: string }) => b?.type === 'tool_result');
  const write = /^write (\S+)$/.exec(req.lastUserText);
  if (write && !afterTool) return { toolUse: { name: 'Write', input: { file_path: join(cwd, `${write[1]}.txt`), content: 'x' }, id: `toolu_${write[1]}` } };
  return { text: `done: ${req.lastUserText.slice(0, 40)}` };
}

/** The Claude backend, stamping each permission ask as its runner hands it to Tether. */
function stampingAsks(backend: AgentBackend, asked: Map<string, number>): AgentBackend {
  return wrapRuns(backend, (run) => (prompt, signal, hooks) => {
    const ask = hooks?.ask;
    if (!ask) return run(prompt, signal, hooks);
    return run(prompt, signal, { ...hooks, ask: (a) => (asked.set(a.toolUseId, hrMs()), ask(a)) });
  });
}
