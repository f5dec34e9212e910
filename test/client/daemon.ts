import type { FastifyInstance } from 'fastify';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Tether } from '../../src/broker/api.js';
import { loadConfig, type TetherConfigInput } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/**
 * The real daemon, in-process: the fastify app over a Tether that drives the real Claude Code
 * binary against the local mock Messages API. What `tether serve` runs, minus the signals.
 */
export interface Daemon {
  url: string;
  fx: AgentFixture;
  tether: Tether;
  app: FastifyInstance;
  stop(): Promise<void>;
}

export async function startDaemon(settings: Partial<TetherConfigInput> = {}): Promise<Daemon> {
  const fx = await agentFixture();
  const tether = await fx.open(settings);
  const config = loadConfig(
    { db: fx.dbPath, defaultCwd: fx.cwd, allowedRoots: fx.dir, logLevel: 'silent', janitorIntervalSec: 0, sseKeepAliveSec: 1, ...settings },
    fx.env,
  );
  const app = await buildServer(tether, config, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fx,
    tether,
    app,
    async stop() {
      await app.close();
      await fx.cleanup();
    },
  };
}

/**
 * A TCP proxy in front of the daemon that cuts a connection right after the SSE event holding
 * `marker` has passed: the client sees a stream that breaks mid-turn, as behind a flaky network.
 * `markerOf` returns null to leave a connection alone. Every request head is recorded.
 */
export interface CuttingProxy {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startCuttingProxy(target: string, markerOf: (requestHead: string, index: number) => string | null): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    let head = '';
    let marker: string | null | undefined;
    // latin1: one char per byte, so positions in `seen` are byte offsets in the response.
    let seen = '';
    let cut = false;
    client.on('data', (chunk: Buffer) => {
      if (marker === undefined) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end !== -1) {
          requests.push(head.slice(0, end));
          marker = markerOf(head.slice(0, end), requests.length - 1);
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (typeof marker !== 'string') {
        client.write(chunk);
        return;
      }
      const before = seen.length;
      seen += chunk.toString('latin1');
      const at = seen.indexOf(marker);
      const end = at === -1 ? -1 : seen.indexOf('\n\n', at);
      if (end === -1) {
        client.write(chunk);
        return;
      }
      cut = true;
      client.write(chunk.subarray(0, end + 2 - before), () => {
        client.destroy();
        upstream.destroy();
      });
    });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('close', close);
      s.on('error', close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
