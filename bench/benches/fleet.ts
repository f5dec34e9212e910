import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMockReply, mockAgentEnv, startMockAnthropic } from '../../src/testing/mock-anthropic.js';
import { adminQuery, postgresUnreachable, TEST_DATABASE_URL } from '../../test/helpers/postgres.js';
import { pool, sendTurn, startNode, type FleetNode } from '../../test/fleet/fleet.js';
import { row, type Benchmark, type ResultRow } from '../lib/types.js';

const KEYS = 24;
const TURNS = 8;
/** Agent processes over the whole fleet, split between its nodes: the same memory for every size. */
const PROCESS_BUDGET = 12;

/**
 * 8. Turn throughput of a fleet of 1, 2 and 3 `tether serve` nodes on one PostgreSQL, the real
 * agent against the mock, the same agent-process budget in all. Each key's turns go one after
 * another, either to a random node (the worst case: a session's previous turn ran elsewhere, so
 * its warm runner is stale and the turn resumes cold) or to the node its key hashes to (what a
 * load balancer with key affinity does). Ratios are against one node, measured in the same run.
 */
export const fleet: Benchmark = {
  name: 'fleet',
  title: 'Fleet throughput: 1, 2 and 3 nodes on PostgreSQL',
  async run(ctx) {
    const unreachable = await postgresUnreachable();
    if (unreachable !== null) throw new Error(`PostgreSQL is unreachable (${unreachable}); set TETHER_TEST_DATABASE_URL`);
    const mock = await startMockAnthropic();
    mock.setDefault(defaultMockReply);
    const throughput: Record<string, number> = {};
    try {
      for (const routing of ['random', 'by key'] as const) {
        for (const size of [1, 2, 3]) {
          const schema = `bench_fleet_${randomBytes(4).toString('hex')}`;
          const dir = join(ctx.tmp, schema);
          const cwd = join(dir, 'work');
          mkdirSync(cwd, { recursive: true });
          const env = {
            PATH: process.env.PATH,
            ...mockAgentEnv(mock),
            TETHER_DATABASE_URL: TEST_DATABASE_URL,
            TETHER_DATABASE_SCHEMA: schema,
            TETHER_MAX_LIVE: String(Math.floor(PROCESS_BUDGET / size)),
          };
          const nodes: FleetNode[] = [];
          try {
            for (let i = 0; i < size; i++) nodes.push(await startNode({ name: `n${i}`, dir, cwd, env }));
            const started = performance.now();
            await pool(
              PROCESS_BUDGET,
              Array.from({ length: KEYS }, (_, k) => async () => {
                for (let t = 1; t <= TURNS; t++) {
                  const node = routing === 'random' ? nodes[Math.floor(Math.random() * size)]! : nodes[k % size]!;
                  const answer = await sendTurn(node, `bench:${k}`, `turn ${t}`);
                  if (answer.status !== 200) throw new Error(`turn failed: ${JSON.stringify(answer.body)}`);
                }
              }),
            );
            const seconds = (performance.now() - started) / 1000;
            const label = `${size} node${size > 1 ? 's' : ''}, ${routing}`;
            throughput[label] = (KEYS * TURNS) / seconds;
            ctx.log(`${label}: ${throughput[label]!.toFixed(1)} turns/s`);
          } finally {
            await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
            await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          }
        }
      }
    } finally {
      await mock.stop();
    }
    const rows: ResultRow[] = [];
    for (const routing of ['random', 'by key']) {
      const base = throughput[`1 node, ${routing}`]!;
      for (const size of [2, 3]) {
        const label = `${size} nodes, ${routing}`;
        rows.push(
          row({
            label: `8. fleet throughput, ${label} vs 1 node`,
            tether: { value: Math.round(throughput[label]! * 10) / 10, unit: 'turns/s' },
            baseline: { value: Math.round(base * 10) / 10, unit: 'turns/s (1 node)' },
            ratioDefinition: `${size} nodes / 1 node (${KEYS} keys × ${TURNS} turns, ${PROCESS_BUDGET} agent processes in all)`,
            ratio: throughput[label]! / base,
            goal: { on: 'none', op: '>=', target: 0, text: 'reported' },
          }),
        );
      }
    }
    return {
      rows,
      summaries: {},
      raw: { throughput },
      checks: { keys: KEYS, turnsPerKey: TURNS },
      notes: [
        'Two cores run every node, the agents, the mock and PostgreSQL: more nodes add no CPU here, so the figures show what a fleet costs, not what it adds on more machines.',
      ],
    };
  },
};
