import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/store.js';
import { defaultMockReply, mockAgentEnv, startMockAnthropic, type MockAnthropic } from '../../src/testing/mock-anthropic.js';
import { adminQuery, POSTGRES_REQUIRED, postgresUnreachable, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { describeFleet } from './describe-fleet.js';
import { BUILT, sendTurn, startBlackholeProxy, startNode, type BlackholeProxy, type FleetNode } from './fleet.js';

const unreachable = await postgresUnreachable();
if (unreachable !== null) {
  console.warn(`[fleet-postgres] PostgreSQL is unreachable (${unreachable}); ${POSTGRES_REQUIRED ? 'TETHER_REQUIRE_POSTGRES=1, so this fails' : 'skipping the PostgreSQL fleet'}`);
}
describe.runIf(unreachable !== null && POSTGRES_REQUIRED)('PostgreSQL fleet', () => {
  it('has a PostgreSQL to run on (TETHER_REQUIRE_POSTGRES=1)', () => {
    throw new Error(`PostgreSQL is unreachable: ${unreachable}`);
  });
});

/** A fresh schema for this file; every node and the test's own connection use it. */
const schema = `fleet_${randomBytes(4).toString('hex')}`;

if (unreachable === null) {
  describeFleet({
    name: 'PostgreSQL',
    env: async () => ({ TETHER_DATABASE_URL: TEST_DATABASE_URL, TETHER_DATABASE_SCHEMA: schema }),
    inspect: () => openPostgresStore({ url: TEST_DATABASE_URL, schema }),
    cleanup: () => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
    // Nearly every turn is an agent cold start (its key's last turn ran on another node): about
    // 1.4 s of CPU each on two cores. The fleet issue's figure is 100 keys × 15 turns
    // (TETHER_FLEET_KEYS=100 TETHER_FLEET_TURNS=15, most of an hour here); CI runs 10 × 9, three
    // rounds of one turn to each node per key, which keeps the suite within its budget.
    keys: Number(process.env.TETHER_FLEET_KEYS ?? 10),
    turnsPerKey: Number(process.env.TETHER_FLEET_TURNS ?? 9),
  });
}

/**
 * A node whose database connection hangs (a proxy that swallows every byte): it cannot renew its
 * lease, so it stops its own turn and ends the agent before the lease can be granted elsewhere;
 * another node then runs the session; and when the connection comes back, the cut-off turn is
 * never recorded as completed.
 */
describe.runIf(BUILT && unreachable === null)('a node whose database hangs (PostgreSQL, built binary, real agent)', () => {
  const LEASE_TTL_MS = 3_000;
  const LONG_MS = 8_000;
  const hangSchema = `hang_${randomBytes(4).toString('hex')}`;
  let mock: MockAnthropic;
  let dir: string;
  let proxy: BlackholeProxy;
  let direct: FleetNode;
  let proxied: FleetNode;
  /** The test's own connection to the nodes' store (for its clock). */
  let inspect: Store;

  beforeAll(async () => {
    mock = await startMockAnthropic();
    mock.setDefault((req) => (req.lastUserText.includes('long') ? { text: 'too late', delayMs: LONG_MS } : defaultMockReply(req)));
    dir = mkdtempSync(join(tmpdir(), 'tether-hang-'));
    const cwd = join(dir, 'work');
    mkdirSync(cwd);
    const url = new URL(TEST_DATABASE_URL);
    proxy = await startBlackholeProxy(url.hostname, Number(url.port || 5432));
    const viaProxy = new URL(TEST_DATABASE_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const env = {
      PATH: process.env.PATH,
      ...mockAgentEnv(mock),
      TETHER_DATABASE_SCHEMA: hangSchema,
      TETHER_LEASE_TTL_MS: String(LEASE_TTL_MS),
      TETHER_JANITOR_INTERVAL: '1',
      TETHER_MAX_LIVE: '2',
    };
    direct = await startNode({ name: 'direct', dir, cwd, env: { ...env, TETHER_DATABASE_URL: TEST_DATABASE_URL } });
    proxied = await startNode({ name: 'proxied', dir, cwd, env: { ...env, TETHER_DATABASE_URL: viaProxy.toString() } });
    inspect = openPostgresStore({ url: TEST_DATABASE_URL, schema: hangSchema });
    await inspect.now();
  }, 120_000);

  afterAll(async () => {
    proxy?.restore();
    await Promise.all([direct?.kill('SIGKILL'), proxied?.kill('SIGKILL')]);
    await proxy?.close();
    await inspect?.close();
    await mock?.stop();
    await adminQuery(`DROP SCHEMA IF EXISTS ${hangSchema} CASCADE`);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  it('stops its own turn, ends the agent, and never completes the turn after losing the lease', async () => {
    expect((await sendTurn(proxied, 'hang:1', 'first words')).status).toBe(200);
    const cutOff = sendTurn(proxied, 'hang:1', 'a long task');
    // Awaited at the end; if the test fails before, afterAll kills the node under this request
    // and its rejection ("other side closed") must not surface as an unhandled error.
    cutOff.catch(() => undefined);
    await expect.poll(() => mock.mainRequests().some((r) => r.lastUserText === 'a long task'), { timeout: 10_000 }).toBe(true);
    const long = mock.mainRequests().find((r) => r.lastUserText === 'a long task')!;

    // The store's clock, which also stamps when a turn got its lease (startedAt).
    const holedAt = await inspect.now();
    proxy.blackhole();
    // The other node gets the session once the lease expires.
    const next = await sendTurn(direct, 'hang:1', 'next');
    expect(next.status).toBe(200);
    // The cut-off node had ended its agent before that: the slow reply was never received.
    expect(long.endedAt).toBeDefined();
    expect(long.response?.text).toBeUndefined();
    expect(long.endedAt! - long.startedAt).toBeLessThan(LONG_MS);
    expect(proxied.log.join('\n')).toMatch(/lease renewal unconfirmed/);

    // The connection comes back: the cut-off node's late write is refused — fenced by the lease
    // (LEASE_LOST), or lost with a connection the server ended meanwhile (STORE_UNAVAILABLE) — and
    // its caller is told the turn did not complete (it answers once that write has been refused).
    proxy.restore();
    const late = await cutOff;
    expect(late.status).not.toBe(200);
    expect(late.body).toMatchObject({ error: { code: expect.stringMatching(/^(LEASE_LOST|STORE_UNAVAILABLE)$/) } });
    const turns = (await (await fetch(`${direct.url}/v1/sessions/hang%3A1/turns`)).json()) as { turns: Array<{ prompt: string; status: string; startedAt: string | null }> };
    // Taken over once the lease expired: when 'next' got the lease, not when it answered (that
    // adds the agent's cold start on the other node: 6–9 s at a load of 20 on two cores).
    expect(Date.parse(turns.turns.find((t) => t.prompt === 'next')!.startedAt!) - holedAt).toBeLessThan(LEASE_TTL_MS + 5_000);
    expect(turns.turns.map((t) => [t.prompt, t.status])).toEqual([
      ['first words', 'succeeded'],
      ['a long task', 'interrupted'],
      ['next', 'succeeded'],
    ]);
  }, 60_000);
});
