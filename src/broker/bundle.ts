import { z } from 'zod';
import { PERMISSION_MODES, TURN_STATUSES } from '../domain/types.js';
import { boundedJson } from './send-options.js';

/**
 * A portable session: what `export` writes and `import` reads. Versioned JSON, self-contained —
 * the session record (its config without `env`, which may hold secrets), its ended turns, and
 * the agent's transcript entries — so the conversation continues in any store, on any machine,
 * under any HOME. Parsing is strict: anything unexpected is refused before a thing is written.
 */
export const BUNDLE_FORMAT = 'tether.session';
export const BUNDLE_VERSION = 1;

const text = (max: number) => z.string().max(max);
const usage = z
  .object({
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    cacheReadTokens: z.number().int().min(0),
    cacheWriteTokens: z.number().int().min(0),
    costUsd: z.number().min(0),
  })
  .strict();
const entry = z.looseObject({ type: z.string().min(1).max(100), uuid: z.string().max(100).optional() });
const entries = z.array(entry).max(200_000);

/**
 * An agent's conversation id: a UUID for Claude Code (and Codex thread ids alike). It is given to
 * the agent's command line (`--resume <id>`) and names the transcript, so nothing else is taken:
 * not a path (`../../x`), not an option (`--dangerously-skip-permissions`).
 */
export const AGENT_SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const bundleSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    version: z.literal(BUNDLE_VERSION),
    exportedAt: z.string().max(40),
    session: z
      .object({
        key: text(256),
        backend: z.enum(['claude', 'codex']),
        generation: z.number().int().min(1),
        agentSessionId: z.string().regex(AGENT_SESSION_ID, 'must be a UUID (the agent\'s conversation id)').nullable(),
        config: z
          .object({
            cwd: text(4096),
            model: text(200).optional(),
            permissionMode: z.enum(PERMISSION_MODES).optional(),
            appendSystemPrompt: text(100_000).optional(),
            maxTurns: z.number().int().min(1).max(1000).optional(),
            allowedTools: z.array(text(200)).max(200).optional(),
            disallowedTools: z.array(text(200)).max(200).optional(),
          })
          .strict(),
        labels: z.record(text(64), text(256)),
        metadata: z.record(text(64), boundedJson()),
        usage,
        context: z.object({ tokens: z.number().int().min(0), window: z.number().int().min(0), ratio: z.number().min(0) }).strict(),
      })
      .strict(),
    turns: z
      .array(
        z
          .object({
            seq: z.number().int().min(1),
            prompt: text(10_000_000),
            status: z.enum(TURN_STATUSES).exclude(['queued', 'running']),
            text: text(10_000_000).nullable(),
            error: z.object({ code: text(64), message: text(10_000) }).strict().nullable(),
            usage: usage.nullable(),
            createdAt: z.number().int(),
            startedAt: z.number().int().nullable(),
            endedAt: z.number().int().nullable(),
          })
          .strict(),
      )
      .max(100_000),
    transcript: z.object({ main: entries, subpaths: z.record(text(500), entries) }).strict(),
  })
  .strict();

export type SessionBundle = z.infer<typeof bundleSchema>;
