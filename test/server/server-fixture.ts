import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Tether } from '../../src/broker/api.js';
import type { CreateTetherOptions } from '../../src/broker/create-tether.js';
import { loadConfig, type TetherConfig, type TetherConfigInput } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';

/**
 * The daemon in-process on a real socket: the fastify app over a Tether that drives the real
 * Claude Code binary against the mock Messages API. Every log line is kept in `logs`.
 */
export interface ServerFixture {
  fx: AgentFixture;
  tether: Tether;
  app: FastifyInstance;
  config: TetherConfig;
  url: string;
  /** Raw pino lines (JSON), at trace level: everything the server logged. */
  logs: string[];
  /** fetch against the server; `path` starts with `/`. */
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function startServer(settings: Partial<TetherConfigInput> = {}, tetherOptions: CreateTetherOptions = {}, fx?: AgentFixture): Promise<ServerFixture> {
  const fixture = fx ?? (await agentFixture());
  const tether = await fixture.open({ ...settings, ...tetherOptions });
  const config = loadConfig(
    { db: fixture.dbPath, defaultCwd: fixture.cwd, allowedRoots: fixture.dir, logLevel: 'silent', janitorIntervalSec: 0, sseKeepAliveSec: 1, ...settings },
    fixture.env,
  );
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => logs.push(line) });
  const app = await buildServer(tether, config, { logger, cwd: fixture.dir });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    fx: fixture,
    tether,
    app,
    config,
    url,
    logs,
    get: (path, init) => fetch(url + path, init),
    post: (path, body, init = {}) =>
      fetch(url + path, {
        method: 'POST',
        ...init,
        headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
        body: JSON.stringify(body),
      }),
    async stop() {
      app.server.closeAllConnections();
      await app.close();
      await fixture.cleanup();
    },
  };
}

export interface SseEvent {
  id: string | undefined;
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/**
 * Parses an SSE response body as it arrives. Comments (keep-alives) are counted in
 * `stats.comments`; events are yielded one by one.
 */
export async function* readSse(response: Response, stats: { comments: number } = { comments: 0 }): AsyncGenerator<SseEvent> {
  if (!response.body) throw new Error('no body');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | undefined;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) stats.comments += 1;
          else if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) yield { id, event, data: JSON.parse(data.join('\n')) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads a whole SSE stream (until the server ends it). */
export async function collectSse(response: Response): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const e of readSse(response)) events.push(e);
  return events;
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A response's JSON body, untyped: tests assert on its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(res: Response): Promise<any> {
  return res.json();
}
