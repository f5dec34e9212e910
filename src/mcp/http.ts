import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { every, type Clock, type Timer } from '../domain/clock.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import { TEAM_NAME } from '../teams/config.js';
import type { TeamsService } from '../teams/service.js';
import { createTeamsMcpServer } from './server.js';

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  tenant: string;
  lastUsed: number;
}

export interface McpSessionsOptions {
  service: TeamsService;
  clock: Clock;
  /** A session unused this long is closed (its client starts a new one on its next call). */
  idleMs?: number;
  /** Sessions open at once, at most. */
  max?: number;
}

/** A request as the MCP route hands it over: the raw HTTP objects, the parsed body, the caller. */
export interface McpRequest {
  raw: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  tenant: string;
  team: string | undefined;
  sessionId: string | undefined;
  /** Takes the response over from the framework: the transport writes it from here on. */
  hijack: () => void;
}

/**
 * The Streamable HTTP sessions of `/mcp`. Stateful: a tool call's progress notifications and the
 * elicitations that put approvals to a person travel on that call's response stream, and the
 * client's answer to an elicitation comes back as another POST of the same session. A session
 * belongs to the tenant whose token opened it; another token does not find it.
 */
export class McpSessions {
  readonly #o: McpSessionsOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #sweep: Timer;

  constructor(options: McpSessionsOptions) {
    this.#o = options;
    const idleMs = options.idleMs ?? 30 * 60_000;
    this.#sweep = every(
      options.clock,
      Math.min(60_000, idleMs),
      () => {
        const cutoff = options.clock.now() - idleMs;
        for (const [id, session] of this.#sessions) if (session.lastUsed <= cutoff) void this.#close(id);
      },
      { unref: true },
    );
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Serves one request of the MCP endpoint. Throws a TetherError before anything is written. */
  async handle(request: McpRequest): Promise<void> {
    const { sessionId } = request;
    if (sessionId !== undefined) {
      const session = this.#sessions.get(sessionId);
      if (!session || session.tenant !== request.tenant) {
        throw new TetherError(ErrorCode.NOT_FOUND, 'no such MCP session (it ended, or was idle too long): initialize a new one');
      }
      session.lastUsed = this.#o.clock.now();
      request.hijack();
      await session.transport.handleRequest(request.raw, request.res, request.body);
      return;
    }
    if (request.raw.method !== 'POST' || !isInitializeRequest(request.body)) {
      throw invalidInput('an MCP request without an Mcp-Session-Id header must be an initialize request');
    }
    if (request.team !== undefined && (!TEAM_NAME.test(request.team) || !this.#o.service.hasTeam(request.team))) {
      throw invalidInput(`team: no team "${request.team}" in this daemon's teams file`);
    }
    if (this.#sessions.size >= (this.#o.max ?? 1000)) {
      throw new TetherError(ErrorCode.LIMIT_REACHED, 'too many MCP sessions are open; close one (DELETE /mcp) or wait for idle ones to end');
    }
    const server = createTeamsMcpServer(this.#o.service, { ...(request.team !== undefined ? { team: request.team } : {}), tenant: request.tenant });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.#sessions.set(id, { transport, server, tenant: request.tenant, lastUsed: this.#o.clock.now() });
      },
      onsessionclosed: (id) => void this.#close(id),
    });
    await server.connect(transport);
    request.hijack();
    await transport.handleRequest(request.raw, request.res, request.body);
  }

  /** Ends every session (the daemon is closing). */
  async close(): Promise<void> {
    this.#sweep.cancel();
    await Promise.all([...this.#sessions.keys()].map((id) => this.#close(id)));
  }

  async #close(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    await session.server.close().catch(() => undefined);
  }
}
