import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ApprovalDecisionInput } from '../broker/api.js';
import type { ApprovalEvent } from '../domain/events.js';
import { invalidInput, toTetherError } from '../errors.js';
import { packageVersion } from '../lib/package-version.js';
import type { ConversationRef } from '../teams/guard.js';
import type { TeamCaller, TeamsService } from '../teams/service.js';
import { TEAM_TOOLS, type TeamToolName } from './tools.js';

/** Who is on the other end of an MCP connection. */
export interface McpCallerContext {
  /** The connection's team (`tether mcp --team NAME`, `/mcp?team=NAME`); a call's `fromTeam` may name another. */
  team?: string;
  /** The tenant whose conversations the calls reach (the token's, over HTTP). */
  tenant?: string;
  /**
   * The conversation whose agent holds this connection, when Tether runs it (a team agent's own
   * tools): its asks enter the loop guard's graph, and it speaks for `team` only.
   */
  conversation?: ConversationRef;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * An MCP server exposing the teams tools over `service`. One per connection: the stdio server of
 * `tether mcp`, each Streamable HTTP session of `/mcp`, and each team agent Tether runs (whose
 * tools are served in process, bound to its conversation).
 */
export function createTeamsMcpServer(service: TeamsService, context: McpCallerContext): McpServer {
  const server = new McpServer(
    { name: 'tether-teams', version: packageVersion() },
    {
      capabilities: { tools: {} },
      instructions:
        'Talk to the agents of other projects ("teams"). team_list shows them; team_ask sends a message and waits for the reply; ' +
        'team_tell sends without waiting (team_result reads the reply later). Each pair of teams keeps one conversation, which remembers earlier messages.',
    },
  );

  const caller = (fromTeam: string | undefined): TeamCaller => {
    const team = fromTeam ?? context.team;
    if (team === undefined) {
      throw invalidInput('fromTeam: this connection names no team; pass fromTeam, or start the server as `tether mcp --team NAME` (HTTP: /mcp?team=NAME)');
    }
    if (context.conversation && team !== context.team) {
      throw invalidInput(`fromTeam: this agent speaks for team "${context.team}" only`);
    }
    return { fromTeam: team, ...(context.tenant !== undefined ? { tenant: context.tenant } : {}), conversation: context.conversation ?? null };
  };

  const handlers: { [N in TeamToolName]: (args: z.infer<z.ZodObject<(typeof TEAM_TOOLS)[N]['input']>>, extra: Extra) => Promise<CallToolResult> } = {
    team_list: async ({ fromTeam }) => {
      const teams = await service.list(caller(fromTeam));
      const lines = teams.map((t) => `- ${t.name}${t.remote ? ` (remote: ${t.remote})` : ''}${t.description ? `: ${t.description}` : ''}${describePair(t.conversation)}`);
      return done(lines.length > 0 ? lines.join('\n') : 'No other teams are configured.', { teams });
    },
    team_ask: async ({ fromTeam, toTeam, message, timeoutSec }, extra) => {
      const outcome = await service.ask(caller(fromTeam), toTeam, message, {
        ...(timeoutSec !== undefined ? { timeoutSec } : {}),
        onProgress: progressOf(extra),
        onApproval: (approval, team) => askPerson(server, extra, approval, team),
      });
      if (outcome.status === 'completed') return done(outcome.reply, { ...outcome });
      return done(`${toTeam} has not answered yet; its reply will be turn ${outcome.turnId} (read it with team_result).`, { ...outcome });
    },
    team_tell: async ({ fromTeam, toTeam, message }) => {
      const told = await service.tell(caller(fromTeam), toTeam, message);
      return done(`Sent to ${toTeam} as turn ${told.turnId}; read the reply with team_result.`, told);
    },
    team_result: async ({ fromTeam, turnId, toTeam }) => {
      const turn = await service.result(caller(fromTeam), turnId, toTeam);
      const text = turn.reply ?? (turn.error ? `${turn.status}: ${turn.error.code}: ${turn.error.message}` : `turn ${turn.turnId} is ${turn.status}`);
      return done(text, { ...turn });
    },
    team_status: async ({ fromTeam, toTeam }) => {
      const status = await service.status(caller(fromTeam), toTeam);
      const s = status.session;
      const text = s
        ? `${status.key}: ${s.status}, ${s.turns} turns, context ${Math.round(s.context.ratio * 100)}% of ${s.context.window} tokens, ` +
          `${s.usage.inputTokens + s.usage.outputTokens} tokens used, ${status.busy ? 'busy' : 'idle'}, ${status.queued} queued${status.remote ? `, served by ${status.remote}` : ''}`
        : `${status.key}: no conversation yet${status.remote ? ` (served by ${status.remote})` : ''}`;
      return done(text, { ...status });
    },
    team_wake: async ({ fromTeam, toTeam }) => {
      const woken = await service.wake(caller(fromTeam), toTeam);
      return done(`${toTeam}: ${woken.status}`, { ...woken });
    },
    team_sleep: async ({ fromTeam, toTeam }) => {
      const slept = await service.sleep(caller(fromTeam), toTeam);
      return done(`${toTeam}: ${slept.slept ? 'asleep (its process ended; the conversation stays)' : 'no idle process to end'}`, { ...slept });
    },
    team_reset: async ({ fromTeam, toTeam }) => {
      const session = await service.reset(caller(fromTeam), toTeam);
      return done(`The conversation with ${toTeam} was reset; the next message starts a new one.`, { key: session.key, generation: session.generation });
    },
    team_compact: async ({ fromTeam, toTeam }) => {
      const compacted = await service.compact(caller(fromTeam), toTeam);
      return done(`Compacted the conversation with ${toTeam}: ${compacted.preTokens} → ${compacted.postTokens} context tokens.`, {
        turnId: compacted.turnId,
        preTokens: compacted.preTokens,
        postTokens: compacted.postTokens,
      });
    },
    team_history: async ({ fromTeam, toTeam, limit }) => {
      const turns = await service.history(caller(fromTeam), toTeam, limit);
      const lines = turns.map((t) => `#${t.seq} [${t.status}] ${fromTeamLabel(t.key)}: ${t.message}\n${toTeam}: ${t.reply ?? t.error?.message ?? '(no reply yet)'}`);
      return done(lines.length > 0 ? lines.join('\n\n') : `No messages with ${toTeam} yet.`, { turns });
    },
  };

  for (const name of Object.keys(TEAM_TOOLS) as TeamToolName[]) {
    const tool = TEAM_TOOLS[name];
    const handler = handlers[name] as (args: unknown, extra: Extra) => Promise<CallToolResult>;
    server.registerTool(
      name,
      { title: tool.title, description: tool.description, inputSchema: tool.input, outputSchema: tool.output, annotations: tool.annotations },
      (async (args: unknown, extra: Extra) => handler(args, extra).catch(toolError)) as never,
    );
  }
  return server;
}

/** A tool's answer: text for the model, the same as structured content for programs. */
function done(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/** Tether's errors as MCP tool errors (the model reads them and can act), with their stable code. */
function toolError(err: unknown): CallToolResult {
  const error = toTetherError(err);
  return { isError: true, content: [{ type: 'text', text: `${error.code}: ${error.message}` }], _meta: { tether: { code: error.code } } };
}

/** `notifications/progress` for a call that asked for them (a progress token in its `_meta`). */
function progressOf(extra: Extra): ((p: { message: string; step: number }) => void) | undefined {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  return ({ message, step }) => {
    void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: step, message } }).catch(() => undefined);
  };
}

/**
 * Puts an approval of the asked team's turn to the person behind the asking client, through MCP
 * elicitation, when the client offers it. Declining denies; cancelling leaves it pending in
 * Tether's approvals inbox. Without elicitation the approval waits there, as any approval does.
 */
async function askPerson(server: McpServer, extra: Extra, approval: ApprovalEvent, team: string): Promise<ApprovalDecisionInput | null> {
  if (!server.server.getClientCapabilities()?.elicitation) return null;
  const answer = await server.server.elicitInput(
    {
      mode: 'form',
      message: `Team "${team}" asks to use ${approval.tool}: ${JSON.stringify(approval.input).slice(0, 2000)}`,
      requestedSchema: {
        type: 'object',
        properties: {
          decision: { type: 'string', title: 'Decision', enum: ['allow', 'deny'], description: `allow or deny ${approval.tool}` },
          remember: { type: 'boolean', title: 'Allow this tool for the rest of the conversation', default: false },
          message: { type: 'string', title: 'Note to the agent (why not, or what to mind)' },
        },
        required: ['decision'],
      },
    },
    { relatedRequestId: extra.requestId, signal: extra.signal },
  );
  if (answer.action === 'cancel') return null;
  if (answer.action === 'decline') return { decision: 'deny', message: 'declined by the person who asked' };
  const content = answer.content ?? {};
  const decision: ApprovalDecisionInput = { decision: content.decision === 'allow' ? 'allow' : 'deny' };
  if (typeof content.message === 'string' && content.message.length > 0) decision.message = content.message;
  if (decision.decision === 'allow' && content.remember === true) decision.remember = 'session';
  return decision;
}

function describePair(pair: { exists: boolean; busy: boolean; queued: number; awake: boolean | null } | null): string {
  if (!pair) return ' [unreachable]';
  if (!pair.exists) return '';
  return ` [conversation open${pair.awake ? ', awake' : pair.awake === false ? ', asleep' : ''}${pair.busy ? ', busy' : ''}${pair.queued > 0 ? `, ${pair.queued} queued` : ''}]`;
}

function fromTeamLabel(key: string): string {
  return key.slice('team:'.length).split('->')[0] ?? key;
}
