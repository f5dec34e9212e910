/**
 * Benchmark 9's broker: Tether and its HTTP server, alone in a process, so that the mock
 * Messages API and the SSE clients (in other processes) do not share its event loop. Spawned by
 * event-delivery.ts with IPC; argv: one JSON object (db, cwd, dir, env, maxLive). It stamps each
 * text delta as its Claude runner yields it (process.hrtime, the same clock in every process of
 * the host), says `{ url }` once listening, answers `stamps` with those taken since the last
 * ask, and closes on `close`.
 */
import type { AddressInfo } from 'node:net';
import type { AgentBackend } from '../../src/agents/agent.js';
import { createClaudeBackend } from '../../src/agents/claude/index.js';
import { createTether } from '../../src/broker/create-tether.js';
import { loadConfig } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { wrapRuns } from '../lib/wrap-runs.js';

interface Args {
  db: string;
  cwd: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  maxLive: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const send = (message: unknown): void => void process.send!(message);
const given = new Map<string, number>();
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const config = loadConfig({ db: args.db, defaultCwd: args.cwd, allowedRoots: args.dir, logLevel: 'silent', janitorIntervalSec: 0 }, args.env);
const tether = await createTether({
  env: args.env,
  defaultCwd: args.cwd,
  db: args.db,
  logLevel: 'silent',
  janitorIntervalSec: 0,
  spares: 0,
  maxLive: args.maxLive,
  // The backend createTether would make, as configured (agents at their default niceness).
  backends: { claude: stamping(createClaudeBackend({ nice: config.agentNice })) },
});
const app = await buildServer(tether, config, { logger: false, cwd: args.dir });
await app.listen({ port: 0, host: '127.0.0.1' });

process.on('message', (message: { type: string }) => {
  if (message.type === 'stamps') {
    send({ type: 'stamps', given: [...given] });
    given.clear();
  } else if (message.type === 'close') {
    void (async () => {
      await app.close();
      await tether.close({ graceMs: 5_000 });
      send({ type: 'closed' });
      process.disconnect();
    })();
  }
});
send({ type: 'ready', url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` });

/** The Claude backend, stamping each text delta as its runner yields it to the broker. */
function stamping(backend: AgentBackend): AgentBackend {
  return wrapRuns(backend, (run) =>
    async function* (prompt, signal, hooks) {
      for await (const event of run(prompt, signal, hooks)) {
        if (event.type === 'text.delta') given.set(event.text, hrMs());
        yield event;
      }
    },
  );
}
