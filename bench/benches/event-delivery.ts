import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchFixture } from '../lib/fixture.js';
import { summarize } from '../lib/stats.js';
import { row, type Benchmark } from '../lib/types.js';

/** Text deltas per reply, and the mock's pause between two: a reply streams over ~0.4 s. */
const CHUNKS = 20;
const CHUNK_MS = 20;
const ROUNDS = 12;
const BUSY = 16;
const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * 9. Event delivery under load: the delay between the agent handing Tether a text delta (the
 * Claude runner yields it) and an SSE client of `POST /v1/sessions/{key}/messages` receiving it,
 * with 1 turn in flight and with 16 (16 warm agent processes streaming at once, each to its own
 * SSE client). The rounds alternate between the two. Three processes, so that only Tether's work
 * is in Tether's event loop: this one runs the mock Messages API, one runs Tether and its HTTP
 * server (event-delivery-broker.ts, stamping each delta as its runner yields it), one the SSE
 * clients (event-delivery-clients.ts, stamping each as it parses it); both stamp with
 * process.hrtime, one clock for every process of the host. Every reply is unique and cut into
 * equal chunks, so a delta's text names it.
 */
export const eventDelivery: Benchmark = {
  name: 'event-delivery',
  title: 'Event delivery under load: agent text delta to SSE client, 1 vs 16 turns in flight',
  async run(ctx) {
    const fx = await benchFixture('event-delivery');
    let replies = 0;
    fx.mock.setDefault(() => {
      const id = ++replies;
      // Equal chunks, each naming its reply and place: "[r12 c03]…" padded to one length.
      const text = Array.from({ length: CHUNKS }, (_, i) => `[r${id} c${String(i).padStart(2, '0')}]`.padEnd(24, '.')).join('');
      return { text, chunks: CHUNKS, chunkDelayMs: CHUNK_MS };
    });
    const broker = fork(join(HERE, 'event-delivery-broker.js'), [JSON.stringify({ db: join(fx.dir, 'tether.db'), cwd: fx.cwd, dir: fx.dir, env: fx.env, maxLive: BUSY + 1 })]);
    const clients = fork(join(HERE, 'event-delivery-clients.js'));
    const one: number[] = [];
    const busy: number[] = [];
    const checks = { turns: 0, deltas: 0, unmatched: 0 };
    try {
      const [{ url }] = (await once(broker, 'message')) as [{ url: string }];
      await once(clients, 'message');
      /** Runs `turns` at once; each delta's delay from the broker's runner to the client goes into `into`. */
      const run = async (turns: Array<{ key: string; prompt: string }>, into: number[] | null): Promise<void> => {
        clients.send({ type: 'turns', url, turns });
        const [reply] = (await once(clients, 'message')) as [{ type: string; received?: Array<[string, number]>; error?: string }];
        if (reply.type !== 'done') throw new Error(reply.error);
        broker.send({ type: 'stamps' });
        const [{ given }] = (await once(broker, 'message')) as [{ given: Array<[string, number]> }];
        const sent = new Map(given);
        checks.turns += turns.length;
        for (const [text, at] of reply.received!) {
          checks.deltas++;
          const from = sent.get(text);
          if (from === undefined) checks.unmatched++;
          else into?.push(at - from);
        }
      };
      const keys = Array.from({ length: BUSY }, (_, i) => `bench:events:${i}`);
      ctx.log(`warming ${keys.length} sessions (a cold start each)`);
      for (const key of keys) await run([{ key, prompt: 'warm-up' }], null);
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which goes first each round, so drift hits both sides alike.
        const solo = (): Promise<void> => run([{ key: keys[0]!, prompt: `solo ${round}` }], one);
        const crowd = (): Promise<void> => run(keys.map((key) => ({ key, prompt: `crowd ${round}` })), busy);
        if (round % 2 === 0) {
          await solo();
          await crowd();
        } else {
          await crowd();
          await solo();
        }
      }
    } finally {
      clients.send({ type: 'exit' });
      broker.send({ type: 'close' });
      await Promise.all([exited(broker), exited(clients)]);
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

/** Resolves once `child` has exited (killed if it has not within 30 s). */
async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await once(child, 'exit');
  clearTimeout(timer);
}
