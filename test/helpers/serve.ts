import type { AddressInfo } from 'node:net';
import type { Tether } from '../../src/broker/api.js';
import { connectTether } from '../../src/client/index.js';
import { loadConfig } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import type { AgentFixture } from './agent-fixture.js';

export interface Served {
  url: string;
  /** The Tether interface over HTTP, on a real socket. */
  client: Tether;
  close(): Promise<void>;
}

/** The daemon's HTTP app over an open Tether of the fixture, on a loopback port. */
export async function serveOverHttp(tether: Tether, fx: AgentFixture): Promise<Served> {
  const config = loadConfig({ db: fx.dbPath, defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent' }, fx.env);
  const app = await buildServer(tether, config, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { url, client: connectTether({ url }), close: () => app.close() };
}
