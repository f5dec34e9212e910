import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TEAM_NAME } from '../teams/config.js';

/*
 * The teams tools: their names, descriptions and schemas, in one table. The inputs are checked by
 * the MCP SDK against these schemas before a handler runs (a bad argument is a tool error naming
 * it); the outputs are the tools' structured content, which programs can rely on.
 */

const teamName = z.string().regex(TEAM_NAME, 'a team name: 1-64 of a-z, 0-9, "_" and "-"');
const fromTeam = teamName.optional().describe('The calling team; defaults to the team this connection was started for.');
const toTeam = teamName.describe('The team to talk to (team_list shows them).');
const message = z.string().min(1).max(100_000).describe('The message, as you would write it to a colleague working in that project.');
const turnId = z.string().min(1).max(100).describe('The id a team_tell or an unfinished team_ask returned.');
const usage = z.looseObject({ inputTokens: z.number(), outputTokens: z.number() });
const turnSummary = z.looseObject({ turnId: z.string(), key: z.string(), seq: z.number(), status: z.string(), message: z.string(), reply: z.string().nullable() });
const pair = { toTeam } as const;

const readOnly: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
const talks: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: true };
const manages: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };

export const TEAM_TOOLS = {
  team_list: {
    title: 'List teams',
    description: 'The teams you can talk to: name, description, and your conversation with each: open, busy, queued messages, and awake (an agent process is up for it).',
    input: { fromTeam },
    output: {
      teams: z.array(
        z.looseObject({
          name: z.string(),
          description: z.string(),
          remote: z.string().nullable(),
          conversation: z.looseObject({ exists: z.boolean(), busy: z.boolean(), queued: z.number(), awake: z.boolean().nullable() }).nullable(),
        }),
      ),
    },
    annotations: readOnly,
  },
  team_ask: {
    title: 'Ask a team',
    description:
      "Sends a message to another team's agent and waits for its reply, which is this tool's result. The team's agent works in its own project and " +
      'remembers your earlier messages. If it takes longer than timeoutSec, you get a turn id to read the reply later with team_result.',
    input: {
      fromTeam,
      toTeam,
      message,
      timeoutSec: z.number().int().min(1).max(3600).optional().describe('How long to wait for the reply (default 600).'),
    },
    output: {
      status: z.enum(['completed', 'pending']),
      turnId: z.string(),
      key: z.string(),
      reply: z.string().optional(),
      usage: usage.optional(),
    },
    annotations: talks,
  },
  team_tell: {
    title: 'Tell a team',
    description: "Sends a message to another team's agent without waiting; returns the turn id (team_result reads the reply).",
    input: { fromTeam, toTeam, message },
    output: { turnId: z.string(), key: z.string() },
    annotations: talks,
  },
  team_result: {
    title: 'Read a reply',
    description: 'The status of a message sent with team_tell or team_ask and, once answered, the reply.',
    input: { fromTeam, turnId, toTeam: teamName.optional().describe('The team it was sent to (needed for a remote team).') },
    output: turnSummary.shape,
    annotations: readOnly,
  },
  team_status: {
    title: 'Conversation status',
    description: 'Your conversation with a team: turns, token usage, context window use, busy or idle, messages queued, and which daemon serves it.',
    input: { fromTeam, ...pair },
    output: { team: z.string(), key: z.string(), remote: z.string().nullable(), session: z.looseObject({}).nullable(), busy: z.boolean(), queued: z.number() },
    annotations: readOnly,
  },
  team_wake: {
    title: 'Wake a team',
    description: "Starts the team's agent process for your conversation ahead of time, so the next message is answered sooner.",
    input: { fromTeam, ...pair },
    output: { status: z.string(), pid: z.number().nullable() },
    annotations: manages,
  },
  team_sleep: {
    title: 'Put a team to sleep',
    description: "Ends the team's idle agent process for your conversation to free memory; the conversation is kept and resumes on the next message.",
    input: { fromTeam, ...pair },
    output: { slept: z.boolean() },
    annotations: manages,
  },
  team_reset: {
    title: 'Reset a conversation',
    description: 'Ends your conversation with a team; the next message starts a fresh one (earlier messages are forgotten).',
    input: { fromTeam, ...pair },
    output: { key: z.string(), generation: z.number() },
    annotations: { ...manages, destructiveHint: true, idempotentHint: false },
  },
  team_compact: {
    title: 'Compact a conversation',
    description: 'Summarizes your conversation with a team to free context space, keeping what matters.',
    input: { fromTeam, ...pair },
    output: { turnId: z.string(), preTokens: z.number(), postTokens: z.number() },
    annotations: manages,
  },
  team_history: {
    title: 'Conversation history',
    description: 'The last messages of your conversation with a team and their replies, oldest first.',
    input: { fromTeam, ...pair, limit: z.number().int().min(1).max(100).optional().describe('How many turns (default 10).') },
    output: { turns: z.array(turnSummary) },
    annotations: readOnly,
  },
} as const;

export type TeamToolName = keyof typeof TEAM_TOOLS;
