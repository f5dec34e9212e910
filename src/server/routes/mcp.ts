import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { systemClock } from '../../domain/clock.js';
import type { McpSessions } from '../../mcp/http.js';
import { ErrorCode, TetherError } from '../../errors.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors } from './docs.js';

const querystring = z.object({
  team: z.string().max(64).optional().describe('The calling team of this connection (the default `fromTeam` of every tool call); read when the session is initialized.'),
});

const headers = z.object({
  'mcp-session-id': z.string().max(200).optional().describe('The session, as the initialize response named it.'),
});

const DESCRIPTION =
  'MCP Streamable HTTP (JSON-RPC 2.0 over POST, server-sent events for streams): the teams tools (team_list, team_ask, team_tell, team_result, ' +
  'team_status, team_wake, team_sleep, team_reset, team_compact, team_history). POST sends a message, GET opens the server stream of a session, ' +
  'DELETE ends it. Answers follow the MCP specification, not the Error body.';

/** `/mcp`: the teams tools for MCP clients, with the API's bearer-token auth (auth.ts). */
export function registerMcpRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const service = ctx.tether.teams;
  // The MCP SDK loads with the first request: a daemon without teams never pays for it.
  let sessions: Promise<McpSessions> | null = null;
  const sessionsOf = (): Promise<McpSessions> | null =>
    service ? (sessions ??= import('../../mcp/http.js').then(({ McpSessions }) => new McpSessions({ service, clock: systemClock }))) : null;
  app.addHook('onClose', async () => (await sessions)?.close());

  const route = app.withTypeProvider<ZodTypeProvider>();
  for (const method of ['POST', 'GET', 'DELETE'] as const) {
    route.route({
      method,
      url: '/mcp',
      schema: {
        operationId: `mcp${method[0]}${method.slice(1).toLowerCase()}`,
        summary: { POST: 'MCP: send a JSON-RPC message', GET: "MCP: open a session's server stream", DELETE: 'MCP: end a session' }[method],
        description: DESCRIPTION,
        tags: ['mcp'],
        querystring,
        headers,
        response: { 200: { description: 'An MCP answer: JSON, or an event stream.' }, ...errors(400, 404, 429) },
      },
      handler: async (request, reply) => {
        const open = sessionsOf();
        if (!open) throw new TetherError(ErrorCode.NOT_FOUND, 'this daemon has no teams: set TETHER_TEAMS to a teams file to serve the MCP tools');
        const sessionId = request.headers['mcp-session-id'];
        // Checked before the transport writes anything, so a refusal is still our JSON error.
        await (await open).handle({
          raw: request.raw,
          res: reply.raw,
          body: request.body,
          tenant: request.tenant,
          team: request.query.team,
          sessionId: typeof sessionId === 'string' ? sessionId : undefined,
          hijack: () => reply.hijack(),
        });
        return reply;
      },
    });
  }
}
