import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMockReply, mockAgentEnv, startMockAnthropic, type MockAnthropic, type RecordedRequest } from '../../src/testing/mock-anthropic.js';
import type { Store } from '../../src/store/store.js';
import { BUILT, pool, sendTurn, startNode, type FleetNode } from './fleet.js';

/**
 * The kill test's node holds its leases this long: short, so the takeover stays quick. The other
 * nodes run on the default TTL (30 s): a node gives up a turn whose lease it has not confirmed
 * for 60% of the TTL, and on two cores with a dozen agents starting and a CPU hog beside them,
 * a node (or the store's write lock, held by a starved node) can stall for longer than 6 s.
 */
const SHORT_LEASE_TTL_MS = 10_000;

export interface FleetStore {
  name: string;
  /** Store settings for every node (a shared SQLite file, or a PostgreSQL URL and schema). */
  env(dir: string): Promise<NodeJS.ProcessEnv>;
  /** A connection of the test's own to the same store, to look at what the nodes wrote. */
  inspect(dir: string): Store;
  cleanup?(): Promise<void>;
  keys: number;
  turnsPerKey: number;
}

/**
 * Three Tether nodes (separate processes, separate HOMEs) on one store, the real agent against
 * the mock: turns of each key go to random nodes, several at once, and the fleet must behave as
 * one broker: nothing lost or run twice, one turn per session at a time, every turn seeing the
 * whole conversation before it; a node killed mid-turn is taken over within the lease TTL.
 */
export function describeFleet(store: FleetStore): void {
  describe.runIf(BUILT)(`a fleet of three nodes on ${store.name} (built binary, real agent)`, () => {
    let mock: MockAnthropic;
    let dir: string;
    let cwd: string;
    let nodes: FleetNode[] = [];
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      mock = await startMockAnthropic();
      // A prompt containing "long" hangs for a minute: the turn to kill a node in.
      mock.setDefault((req) => (req.lastUserText.includes('long') ? { text: 'never', delayMs: 60_000 } : defaultMockReply(req)));
      dir = mkdtempSync(join(tmpdir(), 'tether-fleet-'));
      cwd = join(dir, 'work');
      mkdirSync(cwd);
      env = {
        PATH: process.env.PATH,
        ...mockAgentEnv(mock),
        ...(await store.env(dir)),
        TETHER_JANITOR_INTERVAL: '1',
        TETHER_MAX_LIVE: '4',
        TETHER_MAX_QUEUE: '100',
      };
      nodes = await Promise.all(['a', 'b', 'c'].map((name) => startNode({ name, dir, cwd, env })));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
      await mock?.stop();
      await store.cleanup?.();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    });

    it(`${store.keys} keys × ${store.turnsPerKey} turns to random nodes: none lost or doubled, one at a time, each sees the whole conversation`, async () => {
      const keys = Array.from({ length: store.keys }, (_, i) => `fleet:${i}`);
      const started = performance.now();
      const rounds = Math.ceil(store.turnsPerKey / 3);
      const answers = await pool(
        20,
        keys.map((key) => async () => {
          const out: Array<{ status: number; body: unknown }> = [];
          let n = 0;
          for (let round = 0; round < rounds; round++) {
            // Three turns of the key at once, one to each node in random order: they queue.
            const order = [...nodes].sort(() => Math.random() - 0.5);
            const batch = order.slice(0, Math.min(3, store.turnsPerKey - n)).map((node) => sendTurn(node, key, `${key} #${++n}`));
            out.push(...(await Promise.all(batch)));
          }
          return out;
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const total = store.keys * store.turnsPerKey;
      console.log(`[fleet ${store.name}] ${total} turns in ${seconds.toFixed(1)} s: ${(total / seconds).toFixed(1)} turns/s over 3 nodes`);

      const failed = answers.flat().filter((a) => a.status !== 200);
      expect(failed.map((f) => f.body)).toEqual([]);

      const byKey = new Map<string, RecordedRequest[]>();
      for (const req of mock.mainRequests()) {
        const key = /^(fleet:\d+) #\d+$/.exec(req.lastUserText)?.[1];
        if (key) byKey.set(key, [...(byKey.get(key) ?? []), req]);
      }
      for (const key of keys) {
        const reqs = (byKey.get(key) ?? []).sort((p, q) => p.startedAt - q.startedAt);
        // Exactly one request per prompt: no turn lost, none run twice.
        expect(reqs.map((r) => r.lastUserText).sort(), key).toEqual(Array.from({ length: store.turnsPerKey }, (_, i) => `${key} #${i + 1}`).sort());
        for (let i = 0; i < reqs.length; i++) {
          // Never two turns of the session in flight at once.
          if (i > 0) expect(reqs[i]!.startedAt, key).toBeGreaterThanOrEqual(reqs[i - 1]!.endedAt!);
          // Each turn carries every earlier turn of the key, in the order they ran.
          expect(reqs[i]!.userTexts, key).toEqual(reqs.slice(0, i + 1).map((r) => r.lastUserText));
        }
      }
    }, Math.max(600_000, store.keys * store.turnsPerKey * 2_000));

    it('a node killed mid-turn: another node takes the session over within the lease TTL and continues the conversation', async () => {
      // A fourth node, whose leases last SHORT_LEASE_TTL_MS, is the one killed.
      const a = await startNode({ name: 'short', dir, cwd, env: { ...env, TETHER_LEASE_TTL_MS: String(SHORT_LEASE_TTL_MS) } });
      nodes.push(a);
      const b = nodes[0]!;
      expect((await sendTurn(a, 'kill:1', 'first words')).status).toBe(200);
      void sendTurn(a, 'kill:1', 'a long task').catch(() => undefined);
      await expect.poll(() => mock.mainRequests().some((r) => r.lastUserText === 'a long task'), { timeout: 10_000 }).toBe(true);

      // What the agent wrote reaches the store within moments (eager mirroring); kill after that.
      const session = (await (await fetch(`${a.url}/v1/sessions/kill%3A1`)).json()) as { agentSessionId: string };
      const inspect = store.inspect(dir);
      let killedAt: number;
      try {
        await expect
          .poll(async () => JSON.stringify(await inspect.loadTranscript({ agentSessionId: session.agentSessionId })).includes('a long task'), { timeout: 10_000 })
          .toBe(true);
        // The store's clock, which also stamps when a turn got its lease (startedAt).
        killedAt = await inspect.now();
      } finally {
        await inspect.close();
      }
      await a.kill('SIGKILL');
      const after = await sendTurn(b, 'kill:1', 'still there?');
      expect(after.status).toBe(200);
      // The conversation continued on another node, with another HOME: the store had it all.
      const last = mock.mainRequests().filter((r) => r.lastUserText === 'still there?').at(-1)!;
      expect(last.userTexts[0]).toBe('first words');
      expect(last.userTexts).toContain('a long task');
      const turns = (await (await fetch(`${b.url}/v1/sessions/kill%3A1/turns`)).json()) as { turns: Array<{ prompt: string; status: string; startedAt: string | null }> };
      // Taken over within the lease TTL: when the turn got the lease, not when it answered (that
      // adds the agent's cold start on node b, seconds on a busy machine, which is not the point).
      const takenOverAt = Date.parse(turns.turns.find((t) => t.prompt === 'still there?')!.startedAt!);
      expect(takenOverAt - killedAt!).toBeLessThan(SHORT_LEASE_TTL_MS + 5_000);
      expect(turns.turns.map((t: { prompt: string; status: string }) => [t.prompt, t.status])).toEqual([
        ['first words', 'succeeded'],
        ['a long task', 'interrupted'],
        ['still there?', 'succeeded'],
      ]);
    }, 150_000);
  });
}
