import { join } from 'node:path';
import { createTether } from '../../src/broker/create-tether.js';
import type { TurnHandle } from '../../src/broker/api.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { countingStore, cpuSeconds } from '../lib/counting-store.js';
import { benchFixture } from '../lib/fixture.js';
import { sampleAgentChildren } from '../lib/process-sampler.js';
import { summarize } from '../lib/stats.js';
import { row, type Benchmark } from '../lib/types.js';

const SESSIONS = Number(process.env.TETHER_BENCH_SESSIONS ?? 500);
const TURNS = 3;
const MAX_LIVE = 16;
const DEADLINE_MS = 20 * 60_000;

const keyOf = (i: number): string => `conc:${String(i).padStart(4, '0')}`;
const promptOf = (i: number, n: number): string => `${keyOf(i)} turn ${n}`;

/**
 * 7. 500 sessions × 3 turns sent at once over 16 live slots: nothing lost, nothing run twice,
 * every turn sees its conversation, never more than 16 agent processes; queue waits and wall time.
 */
export const concurrency: Benchmark = {
  name: 'concurrency',
  title: `${SESSIONS} sessions × ${TURNS} turns at once over ${MAX_LIVE} live slots`,
  async run(ctx) {
    const fx = await benchFixture('concurrency');
    const counted = countingStore(openSqliteStore({ path: join(fx.dir, 'tether.db') }));
    const tether = await createTether({
      store: counted.store,
      env: fx.env,
      defaultCwd: fx.cwd,
      // TETHER_BENCH_LOG_LEVEL=warn shows why a turn was lost.
      logLevel: (process.env.TETHER_BENCH_LOG_LEVEL as 'warn' | undefined) ?? 'silent',
      janitorIntervalSec: 0,
      spares: 0,
      maxLive: MAX_LIVE,
      maxSessions: Math.max(1_000, SESSIONS),
      maxQueue: 16,
    });
    const at = new Map<string, { queued?: number; started?: number; ended?: number; runner?: string }>();
    const mark = (turnId: string): { queued?: number; started?: number; ended?: number; runner?: string } => {
      let m = at.get(turnId);
      if (!m) at.set(turnId, (m = {}));
      return m;
    };
    const off = tether.on('*', (event) => {
      const now = performance.now();
      if (event.type === 'turn.queued') mark(event.turnId).queued = now;
      else if (event.type === 'turn.started') Object.assign(mark(event.turnId), { started: now, runner: event.runner });
      else if (event.type === 'turn.completed' || event.type === 'turn.failed') mark(event.turnId).ended = now;
    });

    let maxLive = 0;
    let liveSamples = 0;
    let sampling = true;
    const liveSampler = (async () => {
      while (sampling) {
        maxLive = Math.max(maxLive, (await tether.stats()).runners.live);
        liveSamples++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const children = sampleAgentChildren(20, 'ps');
    const procChildren = sampleAgentChildren(20, 'proc');

    const handles: Array<{ i: number; n: number; handle: TurnHandle }> = [];
    const cpuBefore = cpuSeconds();
    const callsBefore = { ...counted.stats.calls };
    const started = performance.now();
    let settled = 0;
    const progress = setInterval(() => {
      void tether.stats().then((s) => ctx.log(`${settled}/${SESSIONS * TURNS} turns ended after ${((performance.now() - started) / 1000).toFixed(0)} s; runners ${JSON.stringify(s.runners)}`));
    }, 15_000);
    let outcomes: Array<PromiseSettledResult<unknown>>;
    let wallMs: number;
    let processSample: Awaited<ReturnType<ReturnType<typeof sampleAgentChildren>['stop']>>;
    let procSample: typeof processSample;
    try {
      for (let i = 0; i < SESSIONS; i++) {
        for (let n = 1; n <= TURNS; n++) handles.push({ i, n, handle: tether.send(keyOf(i), promptOf(i, n)) });
      }
      const all = Promise.allSettled(
        handles.map((h) =>
          h.handle.result.finally(() => {
            settled++;
          }),
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${settled} of ${handles.length} turns ended within ${DEADLINE_MS / 60_000} min`)), DEADLINE_MS);
      });
      outcomes = await Promise.race([all, deadline]).catch(async (err: unknown) => {
        clearTimeout(timer);
        await tether.close({ graceMs: 2_000 }).catch(() => undefined);
        await fx.cleanup();
        throw err;
      });
      clearTimeout(timer);
      wallMs = performance.now() - started;
    } finally {
      clearInterval(progress);
      sampling = false;
      await liveSampler;
      processSample = await children.stop();
      procSample = await procChildren.stop();
      off();
    }
    try {
      // The journal, read before Tether closes.
      const journal = [];
      for (let i = 0; i < SESSIONS; i++) journal.push(await tether.turns(keyOf(i)));
      const storeCalls = Object.fromEntries(Object.entries(counted.stats.calls).map(([k, v]) => [k, v - (callsBefore[k] ?? 0)]));
      const storeMs = Object.fromEntries(Object.entries(counted.stats.ms).map(([k, v]) => [k, Math.round(v)]));
      // Agent processes count once they have exited and been reaped: close first, then read.
      await tether.close({ graceMs: 5_000 });
      const cpuAfter = cpuSeconds();
      const cpu = {
        wallSec: Math.round(wallMs / 100) / 10,
        brokerProcessCpuSec: Math.round((cpuAfter.self - cpuBefore.self) * 10) / 10,
        agentProcessesCpuSec: Math.round((cpuAfter.children - cpuBefore.children) * 10) / 10,
        coresBusyOnAverage: Math.round(((cpuAfter.self - cpuBefore.self + cpuAfter.children - cpuBefore.children) / (wallMs / 1000)) * 100) / 100,
      };

      // 0 lost: every handle succeeded, and the journal says so too.
      const failures = outcomes.flatMap((o, idx) => (o.status === 'rejected' ? [{ turn: promptOf(handles[idx]!.i, handles[idx]!.n), error: String(o.reason) }] : []));
      const queueWaitJournal: number[] = [];
      let journalSucceeded = 0;
      const journalOther: string[] = [];
      for (let i = 0; i < SESSIONS; i++) {
        const turns = journal[i]!;
        for (const t of turns) {
          if (t.status === 'succeeded') journalSucceeded++;
          else journalOther.push(`${t.prompt}: ${t.status}`);
          if (t.startedAt !== null) queueWaitJournal.push(t.startedAt - t.createdAt);
        }
        const prompts = turns.map((t) => t.prompt);
        const expected = Array.from({ length: TURNS }, (_, k) => promptOf(i, k + 1));
        if (JSON.stringify(prompts) !== JSON.stringify(expected)) journalOther.push(`${keyOf(i)} journal order ${JSON.stringify(prompts)}`);
      }

      // 0 duplicated, and every request carries its conversation so far.
      const main = fx.mock.mainRequests();
      const seen = new Map<string, number>();
      const historyErrors: string[] = [];
      for (const req of main) {
        seen.set(req.lastUserText, (seen.get(req.lastUserText) ?? 0) + 1);
        const m = /^(conc:\d+) turn (\d+)$/.exec(req.lastUserText);
        if (!m) {
          historyErrors.push(`unexpected prompt ${JSON.stringify(req.lastUserText)}`);
          continue;
        }
        const i = Number(m[1]!.slice('conc:'.length));
        const n = Number(m[2]);
        const expected = Array.from({ length: n }, (_, k) => promptOf(i, k + 1));
        if (JSON.stringify(req.userTexts) !== JSON.stringify(expected)) historyErrors.push(`${req.lastUserText}: saw ${JSON.stringify(req.userTexts)}`);
      }
      const duplicated = [...seen].filter(([, count]) => count > 1).map(([p, count]) => `${p} ×${count}`);
      const neverSent = handles.map((h) => promptOf(h.i, h.n)).filter((p) => !seen.has(p));

      const eventWait: number[] = [];
      const service: number[] = [];
      const endToEnd: number[] = [];
      const runners: Record<string, number> = {};
      for (const m of at.values()) {
        if (m.queued !== undefined && m.started !== undefined) eventWait.push(m.started - m.queued);
        if (m.started !== undefined && m.ended !== undefined) service.push(m.ended - m.started);
        if (m.queued !== undefined && m.ended !== undefined) endToEnd.push(m.ended - m.queued);
        if (m.runner) runners[m.runner] = (runners[m.runner] ?? 0) + 1;
      }
      const total = SESSIONS * TURNS;
      const lost = total - journalSucceeded;
      const checks = {
        cpu,
        storeCalls,
        storeMs,
        sessions: SESSIONS,
        turnsPerSession: TURNS,
        turnsSent: handles.length,
        handlesFailed: failures.length,
        journalSucceeded,
        lost,
        mainRequests: main.length,
        duplicated: duplicated.length,
        neverSentToAgent: neverSent.length,
        historyMismatches: historyErrors.length,
        maxAgentChildren: processSample.max,
        agentChildrenSamples: processSample.samples,
        agentChildrenMeanIntervalMs: Math.round(processSample.meanIntervalMs * 10) / 10,
        maxProcChildren: procSample.max,
        procChildrenSamples: procSample.samples,
        procChildrenMeanIntervalMs: Math.round(procSample.meanIntervalMs * 10) / 10,
        maxRunnersLive: maxLive,
        runnersLiveSamples: liveSamples,
        runners,
        examples: { failures: failures.slice(0, 5), journal: journalOther.slice(0, 5), duplicated: duplicated.slice(0, 5), history: historyErrors.slice(0, 5) },
      };
      const wait = summarize(eventWait);
      const waitJ = summarize(queueWaitJournal);
      ctx.log(`wall ${(wallMs / 1000).toFixed(1)} s; lost ${lost}, duplicated ${duplicated.length}, history mismatches ${historyErrors.length}, max processes ${processSample.max} (ps) / ${procSample.max} (/proc) / ${maxLive} (stats); runners ${JSON.stringify(runners)}`);
      const correct = failures.length === 0 && lost === 0 && main.length === total && duplicated.length === 0 && neverSent.length === 0 && historyErrors.length === 0;
      return {
        rows: [
          row({
            label: `7. ${SESSIONS}×${TURNS} turns at once, maxLive ${MAX_LIVE}: lost + duplicated + wrong history`,
            tether: { value: lost + duplicated.length + historyErrors.length + failures.length + Math.abs(main.length - total), unit: 'turns', detail: `wall ${(wallMs / 1000).toFixed(1)} s for ${total} turns` },
            baseline: { value: total, unit: 'turns sent' },
            ratioDefinition: 'turns lost, duplicated or wrong / turns sent',
            ratio: (lost + duplicated.length + historyErrors.length) / total,
            goal: { on: 'tether', op: '==', target: 0, text: '0 lost, 0 duplicated, full history' },
          }),
          row({
            label: `7. … most agent processes at once`,
            tether: { value: Math.max(processSample.max, procSample.max, maxLive), unit: 'processes', detail: `ps ${processSample.max}, /proc ${procSample.max}, stats ${maxLive}` },
            baseline: { value: MAX_LIVE, unit: 'maxLive' },
            ratioDefinition: 'most processes seen / maxLive',
            ratio: Math.max(processSample.max, procSample.max, maxLive) / MAX_LIVE,
            goal: { on: 'ratio', op: '<=', target: 1, text: `never more than ${MAX_LIVE}` },
          }),
          row({
            label: `7. … queue wait (turn.queued → turn.started)`,
            tether: { value: wait.median, unit: 'ms p50', detail: `p99 ${wait.p99}; journal startedAt−createdAt p50 ${waitJ.median}, p99 ${waitJ.p99}` },
            baseline: { value: wallMs, unit: 'ms wall time' },
            ratioDefinition: 'p50 queue wait / wall time',
            ratio: wait.median / wallMs,
            goal: { on: 'none', op: '>=', target: 0, text: 'reported (no goal)' },
          }),
        ],
        summaries: {
          queueWaitEventsMs: wait,
          queueWaitJournalMs: waitJ,
          serviceMs: summarize(service),
          endToEndMs: summarize(endToEnd),
        },
        raw: { wallMs, queueWaitEventsMs: eventWait.map(Math.round), queueWaitJournalMs: queueWaitJournal, serviceMs: service.map(Math.round) },
        checks: { ...checks, correct },
        notes: [
          'Queue wait from events runs from turn.queued to turn.started, which comes after the turn holds both its session lease and an agent slot; the journal startedAt is stamped when the lease is granted, before the slot.',
          'cpu: CPU seconds used during the run by the broker process and by the agent processes (reaped children), and how many of the 2 cores that keeps busy on average. storeCalls / storeMs: calls of each store method during the run and the time they took (the store is wrapped in a counter and passed to createTether).',
          'agentChildren() (ps) is sampled in a worker thread so that its synchronous ps calls do not stall the broker; the ps calls still take CPU from the two cores, and under this load one takes longer than 20 ms (see agentChildrenMeanIntervalMs), so a second worker counts the same children straight from /proc every 20 ms.',
        ],
      };
    } finally {
      await tether.close({ graceMs: 5_000 }).catch(() => undefined);
      await fx.cleanup();
    }
  },
};
