import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AgentBackend, Runner, RunnerSettings } from '../../src/agents/agent.js';
import { createClaudeBackend } from '../../src/agents/claude/index.js';
import { createTether } from '../../src/broker/create-tether.js';
import { readSse } from '../../src/client/sse-parser.js';
import { loadConfig } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { benchFixture } from '../lib/fixture.js';
import { summarize } from '../lib/stats.js';
import { row, type Benchmark } from '../lib/types.js';

/** Text deltas per reply, and the mock's pause between two: a reply streams over ~0.4 s. */
const CHUNKS = 20;
const CHUNK_MS = 20;
const ROUNDS = 12;
const BUSY = 16;

/**
 * 9. Event delivery under load: the delay between the agent handing Tether a text delta (the
 * Claude runner yields it) and an SSE client of `POST /v1/sessions/{key}/messages` receiving it,
 * with 1 turn in flight and with 16 (16 warm agent processes streaming at once, each to its own
 * SSE client). The rounds alternate between the two. Both ends are timed in this process
 * (performance.now): a wrapper around the Claude backend stamps each delta as the runner yields
 * it, and the client stamps it as it parses it. Every reply is unique and cut into equal chunks,
 * so a delta's text names it.
 */
export const eventDelivery: Benchmark = {
  name: 'event-delivery',
  title: 'Event delivery under load: agent text delta to SSE client, 1 vs 16 turns in flight',
  async run(ctx) {
    const fx = await benchFixture('event-delivery');
    const given = new Map<string, number>();
    let replies = 0;
    fx.mock.setDefault(() => {
      const id = ++replies;
      // Equal chunks, each naming its reply and place: "[r12 c03]…" padded to one length.
      const text = Array.from({ length: CHUNKS }, (_, i) => `[r${id} c${String(i).padStart(2, '0')}]`.padEnd(24, '.')).join('');
      return { text, chunks: CHUNKS, chunkDelayMs: CHUNK_MS };
    });
    const config = loadConfig({ db: join(fx.dir, 'tether.db'), defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent', janitorIntervalSec: 0 }, fx.env);
    const tether = await createTether({
      env: fx.env,
      defaultCwd: fx.cwd,
      db: join(fx.dir, 'tether.db'),
      logLevel: 'silent',
      janitorIntervalSec: 0,
      spares: 0,
      maxLive: BUSY + 1,
      // The backend createTether would make, as configured (agents at their default niceness).
      backends: { claude: stamping(createClaudeBackend({ nice: config.agentNice }), given) },
    });
    const app = await buildServer(tether, config, { logger: false, cwd: fx.dir });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const one: number[] = [];
    const busy: number[] = [];
    const checks = { turns: 0, deltas: 0, unmatched: 0 };
    try {
      const keys = Array.from({ length: BUSY }, (_, i) => `bench:events:${i}`);
      ctx.log(`warming ${keys.length} sessions (a cold start each)`);
      for (const key of keys) await sseTurn(url, key, 'warm-up', given, [], checks);
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which goes first each round, so drift hits both sides alike.
        const solo = (): Promise<void> => sseTurn(url, keys[0]!, `solo ${round}`, given, one, checks);
        const crowd = async (): Promise<void> => void (await Promise.all(keys.map((key) => sseTurn(url, key, `crowd ${round}`, given, busy, checks))));
        if (round % 2 === 0) {
          await solo();
          await crowd();
        } else {
          await crowd();
          await solo();
        }
      }
    } finally {
      await app.close();
      await tether.close({ graceMs: 5_000 });
      await fx.cleanup();
    }
    const s1 = summarize(one);
    const s16 = summarize(busy);
    const extra = Math.round((s16.p99 - s1.p99) * 100) / 100;
    return {
      rows: [
        row({
          label: '9. event delivery: agent text delta to SSE client, p99 with 16 turns in flight vs 1',
          tether: { value: s16.p99, unit: 'ms', detail: `p50 ${s16.median}` },
          baseline: { value: s1.p99, unit: 'ms', detail: `p50 ${s1.median}` },
          ratioDefinition: 'p99 with 16 in flight / p99 with 1',
          ratio: s1.p99 > 0 ? s16.p99 / s1.p99 : null,
          goal: { on: 'none', op: '<=', target: 0, text: 'reported (the goal is the next row)' },
        }),
        row({
          label: '9. event delivery: p99 with 16 in flight minus p99 with 1',
          tether: { value: extra, unit: 'ms' },
          baseline: null,
          ratioDefinition: 'difference of the p99s, same run',
          ratio: null,
          goal: { on: 'tether', op: '<=', target: 5, text: '≤ 5 ms more' },
        }),
      ],
      summaries: { oneInFlight: s1, sixteenInFlight: s16 },
      raw: { oneInFlight: one, sixteenInFlight: busy },
      checks,
      notes: [`${checks.deltas} deltas over ${checks.turns} turns; ${checks.unmatched} arrived without a stamp (text split otherwise than sent).`],
    };
  },
};

/** The Claude backend, stamping each text delta as its runner yields it to the broker. */
function stamping(backend: AgentBackend, given: Map<string, number>): AgentBackend {
  return {
    ...backend,
    open(spec): Runner {
      const runner = backend.open(spec);
      return {
        async *run(prompt, signal) {
          for await (const event of runner.run(prompt, signal)) {
            if (event.type === 'text.delta') given.set(event.text, performance.now());
            yield event;
          }
        },
        close: () => runner.close(),
        get pid() {
          return runner.pid;
        },
        get alive() {
          return runner.alive;
        },
        get settings() {
          return runner.settings;
        },
        ...(runner.reconfigure ? { reconfigure: (change: RunnerSettings) => runner.reconfigure!(change) } : {}),
      };
    },
  };
}

/** One turn over HTTP as SSE; each text delta's delay from the runner to here goes into `into`. */
async function sseTurn(url: string, key: string, prompt: string, given: Map<string, number>, into: number[], checks: { turns: number; deltas: number; unmatched: number }): Promise<void> {
  const res = await fetch(`${url}/v1/sessions/${encodeURIComponent(key)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ prompt }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  for await (const message of readSse(res.body)) {
    if (message.event === 'text.delta') {
      const at = performance.now();
      const { text } = JSON.parse(message.data) as { text: string };
      const sent = given.get(text);
      given.delete(text);
      checks.deltas++;
      if (sent === undefined) checks.unmatched++;
      else into.push(at - sent);
    } else if (message.event === 'turn.completed' || message.event === 'turn.failed') {
      if (message.event === 'turn.failed') throw new Error(`turn failed: ${message.data}`);
      checks.turns++;
      return;
    }
  }
  throw new Error('the stream ended before the turn did');
}
