import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { TetherConfig } from '../config.js';
import { RULE_PATTERN } from '../domain/approval-rules.js';
import { JSON_BOUNDS, depthProblem } from '../domain/json-bounds.js';
import { validateKey, validateLabels, validateTenant } from '../domain/keys.js';
import { PERMISSION_MODES, type BackendName, type Labels, type Metadata, type SessionConfig } from '../domain/types.js';
import { invalidInput } from '../errors.js';
import type { SendOptions } from './api.js';

const PRINTABLE_LINE = /^[^\p{Cc}]*$/u;
const toolList = z.array(z.string().min(1).max(200).regex(PRINTABLE_LINE)).max(200);
const approvalRuleList = z
  .array(z.string().min(1).max(1000).regex(PRINTABLE_LINE).regex(RULE_PATTERN, 'must be Tool or Tool(specifier), as Claude Code writes rules'))
  .max(200);

/**
 * A free-form JSON value (a metadata value) at most `maxDepth` levels deep. The depth is checked
 * first, without recursion; only a value within it reaches `z.json()`, whose recursion would
 * otherwise overflow the stack on one nested a few thousand levels deep.
 */
export function boundedJson(maxDepth: number = JSON_BOUNDS.fieldDepth) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      const problem = depthProblem(value, maxDepth);
      // `continue: false`: nothing after this (the record's size check stringifies it) may run on it.
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem} (the limit for free-form JSON)`, continue: false });
    })
    .pipe(z.json());
}

const metadataKey = z.string().min(1).max(64).regex(PRINTABLE_LINE);
const metadataSize = (m: Record<string, unknown>): boolean => JSON.stringify(m).length <= JSON_BOUNDS.metadataBytes;
const METADATA_TOO_LARGE = `metadata is larger than ${JSON_BOUNDS.metadataBytes / 1024} KiB`;

/**
 * The settings of a new session, with their bounds: the one definition shared by the library,
 * the CLI and HTTP (which derives its request schema, and so its OpenAPI document, from it).
 */
export const sessionSettingsShape = {
  /** The agent behind a new session: Claude Code or Codex (TETHER_DEFAULT_BACKEND by default). A live session keeps its own. */
  backend: z.enum(['claude', 'codex']).optional(),
  cwd: z.string().min(1).max(4096).regex(PRINTABLE_LINE).optional(),
  model: z.string().min(1).max(200).regex(PRINTABLE_LINE).optional(),
  permissionMode: z.enum(PERMISSION_MODES).optional(),
  appendSystemPrompt: z.string().max(100_000).optional(),
  maxTurns: z.number().int().min(1).max(1000).optional(),
  allowedTools: toolList.optional(),
  disallowedTools: toolList.optional(),
  /** `ask`: tool calls the agent would ask a person about wait for a decision (approvals); `deny`: refused. */
  approvals: z.enum(['ask', 'deny']).optional(),
  /** How long this session's approvals wait for a decision, in seconds. */
  approvalTimeoutSec: z.number().int().min(1).max(30 * 24 * 3600).optional(),
  /** Tool calls decided without a person, in Claude Code's rule syntax: `Bash(npm test:*)`, `Write(src/**)`, `Read`. */
  approvalRules: z
    .object({ allow: approvalRuleList.optional(), deny: approvalRuleList.optional() })
    .strict()
    .optional(),
  /** Names and values are checked further by validateLabels. */
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
  /** Free-form JSON about the session (merged over what it has): at most 16 KiB, each value 32 levels deep. */
  metadata: z.record(metadataKey, boundedJson()).refine(metadataSize, METADATA_TOO_LARGE).optional(),
  /** Links other systems give a session: stored in its metadata as `taskId` and `mcpSessionId`. */
  taskId: z.string().min(1).max(256).regex(PRINTABLE_LINE).optional(),
  mcpSessionId: z.string().min(1).max(256).regex(PRINTABLE_LINE).optional(),
};

/** A change of a live session's settings (`Tether.update`, `PATCH /v1/sessions/{key}`); null clears. */
export const sessionUpdateSchema = z
  .object({
    model: sessionSettingsShape.model.unwrap().nullable().optional(),
    permissionMode: sessionSettingsShape.permissionMode.unwrap().nullable().optional(),
    labels: z.record(z.string().max(64), z.string().max(256).nullable()).optional(),
    metadata: z.record(metadataKey, boundedJson().nullable()).refine(metadataSize, METADATA_TOO_LARGE).optional(),
  })
  .strict();

/** The options of a message in the library: the session settings plus what only a caller in process may set. */
export const sendOptionsSchema = z
  .object({
    ...sessionSettingsShape,
    tenant: z.string().optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(100_000)).optional(),
    onBusy: z.enum(['queue', 'reject']).optional(),
    signal: z.instanceof(AbortSignal).optional(),
  })
  .strict();

export interface ResolvedSend {
  tenant: string;
  key: string;
  prompt: string;
  /** The backend a new session would get; `backendAsked`: the options named it. */
  backend: BackendName;
  backendAsked: boolean;
  /** The config a new session would get. */
  config: SessionConfig;
  labels: Labels;
  metadata: Metadata;
  onBusy: 'queue' | 'reject';
}

/** An existing directory, absolute, with `..` and symlinks resolved. */
export function resolveCwd(cwd: string): string {
  const absolute = isAbsolute(cwd) ? cwd : resolve(cwd);
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch {
    throw invalidInput(`cwd ${cwd} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw invalidInput(`cwd ${cwd} is not a directory`);
  return real;
}

/** Validates a message and its options; throws INVALID_INPUT before anything is written. */
export function resolveSend(key: unknown, prompt: unknown, options: SendOptions | undefined, config: TetherConfig): ResolvedSend {
  const parsed = sendOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(`invalid option ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`.replace('option : ', 'options: '));
  }
  const opts = parsed.data;
  if (typeof prompt !== 'string' || prompt.trim().length === 0) throw invalidInput('prompt must be a non-empty string');
  if (prompt.length > config.maxPromptChars) {
    throw invalidInput(`prompt is ${prompt.length} characters long; the limit is ${config.maxPromptChars} (TETHER_MAX_PROMPT_CHARS)`);
  }
  const sessionConfig: SessionConfig = { cwd: resolveCwd(opts.cwd ?? config.defaultCwd ?? process.cwd()) };
  const backend = opts.backend ?? config.defaultBackend;
  // TETHER_MODEL names a Claude model; Codex's default model is its config.toml's.
  const model = opts.model ?? (backend === 'claude' ? config.defaultModel : undefined);
  if (model) sessionConfig.model = model;
  const permissionMode = opts.permissionMode ?? config.defaultPermissionMode;
  if (permissionMode) sessionConfig.permissionMode = permissionMode;
  if (opts.appendSystemPrompt) sessionConfig.appendSystemPrompt = opts.appendSystemPrompt;
  if (opts.maxTurns) sessionConfig.maxTurns = opts.maxTurns;
  if (opts.allowedTools) sessionConfig.allowedTools = opts.allowedTools;
  if (opts.disallowedTools) sessionConfig.disallowedTools = opts.disallowedTools;
  if ((opts.approvals ?? config.approvals) === 'ask') sessionConfig.approvals = 'ask';
  if (opts.approvalTimeoutSec) sessionConfig.approvalTimeoutSec = opts.approvalTimeoutSec;
  if (opts.approvalRules?.allow?.length || opts.approvalRules?.deny?.length) sessionConfig.approvalRules = opts.approvalRules;
  if (opts.env) sessionConfig.env = opts.env;
  return {
    tenant: validateTenant(opts.tenant ?? config.tenant),
    key: validateKey(key),
    prompt,
    backend,
    backendAsked: opts.backend !== undefined,
    config: sessionConfig,
    labels: validateLabels(opts.labels),
    metadata: {
      ...opts.metadata,
      ...(opts.taskId !== undefined ? { taskId: opts.taskId } : {}),
      ...(opts.mcpSessionId !== undefined ? { mcpSessionId: opts.mcpSessionId } : {}),
    },
    onBusy: opts.onBusy ?? config.onBusy,
  };
}
