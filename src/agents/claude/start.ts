import { query, type CanUseTool, type Options, type Query, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import type { RunnerSettings, RunnerSpec } from '../agent.js';
import type { AsyncQueue } from '../../lib/async-queue.js';
import { ProcessWatch, trackedSpawn, type ClaudeLaunch } from './spawn.js';
import { sessionStoreOver, withConfigDir } from './transcripts.js';

/** How a Claude runner's process comes to be: the SDK options of a conversation, a cold start, a recovery. */
/**
 * Starts the agent process for a runner: a fresh `query()`, or the claim of a parked spare.
 * `settings` are the runner's current model and permission mode, which `reconfigure` may have
 * changed since the spec: a process the runner starts again (a recovery) must not go back to the
 * spec's. (A spare's claim is only ever a runner's first start, when both are the same.)
 */
export interface ClaudeStart {
  (
    input: AsyncQueue<SDKUserMessage>,
    settings: RunnerSettings,
    canUseTool: CanUseTool | null,
  ): { query: Query; watch: ProcessWatch; claimed?: Promise<unknown> };
}

/**
 * What a runner needs to replace a conversation that cannot be resumed (its transcript is gone
 * from the archive and from disk) by a new one opening with a recap, so the key never dies.
 */
export interface RunnerRecovery {
  /** False when the conversation is known to be gone (checked before a cold resume). */
  canResume(agentSessionId: string): Promise<boolean>;
  /** The start of a new conversation with the given id, same settings. */
  restart(conversationId: string): ClaudeStart;
  /** The recap of the last exchanges to open the new conversation with. */
  recap(): Promise<string>;
}

/** The SDK options of a conversation started with `query()`. */
export function claudeOptions(spec: RunnerSpec, launch: ClaudeLaunch, watch: ProcessWatch, canUseTool: CanUseTool | null = null): Options {
  const { config, env, resume, newConversationId } = spec;
  const { archive } = launch;
  const options: Options = {
    cwd: config.cwd,
    env: { ...withConfigDir(env) },
    pathToClaudeCodeExecutable: launch.binary,
    spawnClaudeCodeProcess: trackedSpawn(watch, launch.nice),
    includePartialMessages: true,
  };
  if (archive) {
    options.sessionStore = sessionStoreOver(archive);
    // A resumed conversation runs from a temporary copy the SDK materializes from the store, so
    // the store is the only durable copy: every frame goes there as it is written, and a crash
    // mid-turn loses nothing the agent had already written (its prompt, its tool calls).
    options.sessionStoreFlush = 'eager';
  }
  if (config.model) options.model = config.model;
  // Claude Code resumes a conversation on the model it last used: a session without a model of
  // its own (never set, or cleared) names the default, the operator's ANTHROPIC_MODEL if set.
  else if (resume) options.model = env.ANTHROPIC_MODEL || 'default';
  if (config.permissionMode) options.permissionMode = config.permissionMode;
  if (config.permissionMode === 'bypassPermissions') options.allowDangerouslySkipPermissions = true;
  if (canUseTool) options.canUseTool = spec.tools?.length ? allowingOwnTools(canUseTool, spec.tools) : canUseTool;
  if (config.appendSystemPrompt) options.systemPrompt = { type: 'preset', preset: 'claude_code', append: config.appendSystemPrompt };
  if (config.maxTurns) options.maxTurns = config.maxTurns;
  if (config.allowedTools) options.allowedTools = config.allowedTools;
  if (spec.tools?.length) {
    // Served by Tether in this process: each started process gets servers of its own, and their
    // tools are allowed (Tether's own tools are not a person's call to make): by an allow rule,
    // or, when a person decides the other tools, by the permission callback (an allow rule
    // would shadow the callback, which the SDK warns about).
    options.mcpServers = Object.fromEntries(spec.tools.map((t) => [t.name, { type: 'sdk' as const, name: t.name, instance: t.create() }]));
    if (!canUseTool) options.allowedTools = [...(options.allowedTools ?? []), ...spec.tools.map((t) => `mcp__${t.name}`)];
  }
  if (config.disallowedTools) options.disallowedTools = config.disallowedTools;
  if (resume) options.resume = resume;
  else if (newConversationId) options.sessionId = newConversationId;
  return options;
}

/** A cold start: a new Claude Code process for the spec's conversation, with the runner's current settings. */
export function coldStart(spec: RunnerSpec, launch: ClaudeLaunch): ClaudeStart {
  return (input, settings, canUseTool) => {
    const watch = new ProcessWatch();
    const config = { ...spec.config, model: settings.model ?? undefined, permissionMode: settings.permissionMode ?? undefined };
    return { query: query({ prompt: input, options: claudeOptions({ ...spec, config }, launch, watch, canUseTool) }), watch };
  };
}

/** `canUseTool`, allowing every tool of Tether's own in-process servers without asking. */
function allowingOwnTools(canUseTool: CanUseTool, tools: readonly { name: string }[]): CanUseTool {
  const prefixes = tools.map((t) => `mcp__${t.name}__`);
  return (name, input, options) => (prefixes.some((p) => name.startsWith(p)) ? Promise.resolve({ behavior: 'allow', updatedInput: input }) : canUseTool(name, input, options));
}
