import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { BackendName, ContextInfo, PermissionMode, SessionConfig, TurnError, Usage } from '../domain/types.js';

/**
 * The agent port: how the broker drives a coding agent without knowing its CLI.
 *
 * A backend opens runners; a runner is bound to one agent conversation and runs its turns one
 * after another. A runner may live across turns (a warm process fed by streaming input) or be
 * opened per turn: the broker only relies on "one turn at a time, in order".
 */
export interface AgentBackend {
  readonly name: BackendName;
  /**
   * Checks what can be known before anything is written: the binary exists, credentials are
   * present, the config is one this backend accepts. Throws AGENT_UNAVAILABLE or INVALID_INPUT.
   */
  preflight(config: SessionConfig, env: NodeJS.ProcessEnv): Promise<void>;
  /** The agent binary this backend runs; throws AGENT_UNAVAILABLE when there is none. */
  locate(): string;
  /**
   * Throws AGENT_UNAVAILABLE when the environment gives the agent no way to authenticate
   * (optional: backends that need no credentials leave it out). Readiness asks it.
   */
  checkCredentials?(env: NodeJS.ProcessEnv): void;
  /** Opens a runner for one conversation. Cheap: the process starts on the first turn. */
  open(spec: RunnerSpec): Runner;
  /**
   * Starts a spare agent process that waits, initialized, for a new conversation (optional:
   * backends that can park a process). `env` is fixed at this point.
   */
  prewarm?(env: NodeJS.ProcessEnv): Promise<Spare>;
  /** Makes sure the store holds the conversation's whole transcript (completing it from disk). */
  verify?(agentSessionId: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void>;
  /**
   * Copies a conversation into a new one (the source is untouched), keeping its first
   * `keepPrompts` user prompts with what followed each, or all of it (null). Returns the new id.
   */
  fork?(source: { agentSessionId: string; cwd: string; env: NodeJS.ProcessEnv }, keepPrompts: number | null): Promise<string>;
  /**
   * The conversation without its last exchange, when that exchange's user prompt carries
   * `prompt` (for `regenerate`): a copy cut just before it (the source is untouched), null when
   * nothing came before it, or the source's own id when its last prompt is another (the replaced
   * turn never reached the agent, so there is nothing to cut).
   */
  rewind?(source: { agentSessionId: string; cwd: string; env: NodeJS.ProcessEnv }, prompt: string): Promise<string | null>;
  /** Context window of a model when the agent does not report one. */
  contextWindow(model: string | undefined): number;
  /**
   * What a `continue` turn sends. An agent whose every turn must open with user text (Claude
   * Code: its input is a stream of user messages, and the Messages API answers only after one)
   * gets the word a person would type; absent when the agent can take a turn without new text.
   */
  readonly continuePrompt?: string;
}

/**
 * The prompt of a compaction turn: the runner compacts the conversation instead of sending text,
 * each agent its own way (Claude Code reads it as its own `/compact` command; Codex runs
 * `thread/compact/start`), and reports it with a `compacted` event.
 */
export const COMPACT_PROMPT = '/compact';

/** What a runner asks of the broker during one turn. */
export interface TurnHooks {
  /**
   * A tool call the agent would ask a person about (only for a session with `approvals: 'ask'`):
   * resolves with the decision. Absent: such calls are refused.
   */
  ask?(ask: PermissionAsk): Promise<PermissionAnswer>;
}

/** A tool call (or a question to the user) the agent asks about, in the agent's own terms. */
export interface PermissionAsk {
  kind: 'tool' | 'question';
  toolUseId: string;
  tool: string;
  input: Record<string, unknown>;
  title: string | null;
  /** The agent's "don't ask again" rules for this call (backend-specific objects). */
  suggestions: unknown[];
  /** Aborted when the agent stops waiting (the turn was interrupted). */
  signal: AbortSignal;
}

export type PermissionAnswer =
  /** Run the call, with `input` instead of the agent's (a question's answers); `remember`: keep the suggestions for the session. */
  | { behavior: 'allow'; input?: Record<string, unknown>; remember: boolean }
  /** Refuse it; `interrupt`: and end the agent's turn there (the broker parks the turn until a person decides). */
  | { behavior: 'deny'; message: string; interrupt?: boolean };

export interface RunnerSpec {
  config: SessionConfig;
  /** Conversation to continue; null starts a new one. */
  resume: string | null;
  /** Id to give a new conversation (backends that let the caller choose it). */
  newConversationId?: string;
  /** Environment of the agent process (already merged: broker env + session env). */
  env: NodeJS.ProcessEnv;
  /** What the conversation has cost so far, for backends that report running totals. */
  priorCostUsd?: number;
  /** The session's tenant: backends that keep state per tenant (Codex's home) keep it apart. */
  tenant?: string;
  /**
   * A recap of the conversation's last exchanges (from Tether's journal), for when `resume`
   * turns out to be impossible: the runner then starts a new conversation that opens with it
   * and reports `recovered`. Absent: a lost conversation fails the turn.
   */
  recap?: () => Promise<string>;
  /**
   * MCP servers Tether itself serves to this agent, in its own process (the teams tools of a
   * team's agent). Backends that can host in-process servers (Claude, through the Agent SDK)
   * give them to the agent and allow their tools; the others leave them out.
   */
  tools?: InProcessTools[];
}

/** An MCP server run inside Tether for one agent process: `create` is called once per process started. */
export interface InProcessTools {
  /** The server's name as the agent sees it (its tools are `mcp__<name>__<tool>`). */
  name: string;
  create(): McpServer;
}

export interface Runner {
  /**
   * Runs one turn. Yields normalized events and ends with exactly one `result` event; never
   * throws for agent-side failures (they arrive as a failed result), only for misuse.
   * Aborting `signal` interrupts the turn; the result then has error code INTERRUPTED.
   */
  run(prompt: string, signal: AbortSignal, hooks?: TurnHooks): AsyncIterable<AgentEvent>;
  /** Ends the agent process, if any, and resolves once it has exited. Idempotent. */
  close(): Promise<void>;
  /** Pid of the agent process while one runs (for orphan reaping), else null. */
  readonly pid: number | null;
  /** False once the agent process has exited or the runner was closed. */
  readonly alive: boolean;
  /** The model and permission mode the process runs with (or will start with). */
  readonly settings: RunnerSettings;
  /**
   * Switches the live agent process, between turns, to another model and permission mode (null:
   * the agent's default), keeping the conversation (optional: backends that can). True when the
   * process now runs with these settings; false when it cannot (no process yet, a turn running,
   * the agent refused): the caller should start a new process instead.
   */
  reconfigure?(change: RunnerSettings): Promise<boolean>;
  /**
   * Starts the agent process ahead of the first turn, resuming the spec's conversation, and
   * resolves once it is up (initialized, waiting for a prompt); the next `run` goes into that
   * process. Rejects when it could not start (the runner is then closed). Does nothing when the
   * process runs already. Optional: backends whose process starts only with a turn (Codex: its
   * thread loads with `turn/start`) leave it out, and a session of theirs cannot be woken.
   */
  warm?(): Promise<void>;
}

/** The settings a session may change while its agent process lives (null: the agent's default). */
export interface RunnerSettings {
  model: string | null;
  permissionMode: PermissionMode | null;
}

/** A parked, initialized agent process, claimable by one new conversation. */
export interface Spare {
  /**
   * Binds the spare to a new conversation. Returns null when this spare cannot take the spec
   * (config fixed at prewarm differs, or it already exited): start the conversation normally.
   * A claim the process refuses once the turn has begun is retried by the runner as a normal
   * start with the same prompt, so the caller never sees it.
   */
  claim(spec: RunnerSpec): Runner | null;
  readonly alive: boolean;
  readonly pid: number | null;
  /** Resolves when the spare's process exits, claimed or not. */
  readonly exited: Promise<void>;
  close(): Promise<void>;
}

export type AgentEvent =
  /** The agent knows its conversation id (new or resumed). */
  | { type: 'init'; agentSessionId: string; model: string | null }
  /** The agent compacted its conversation (asked to, or on its own): context before and after, in tokens. */
  | { type: 'compacted'; trigger: string; preTokens: number; postTokens: number }
  /** The conversation to resume was gone; a new one (`agentSessionId`) carries the recap. */
  | { type: 'recovered'; previousAgentSessionId: string; agentSessionId: string; reason: string }
  | { type: 'text.delta'; text: string }
  | { type: 'message'; text: string }
  | { type: 'tool.use'; toolUseId: string; name: string; input: unknown }
  | { type: 'tool.result'; toolUseId: string; content: string; isError: boolean }
  | AgentResult;

export interface AgentResult {
  type: 'result';
  ok: boolean;
  /** Final reply text (empty on failure). */
  text: string;
  /** This turn's usage (not the conversation's running total). */
  usage: Usage;
  /** Context after the turn; window from the agent, or the fallback table. */
  context: ContextInfo;
  agentSessionId: string | null;
  durationMs: number;
  error: TurnError | null;
  /** Failed on the account's usage limit: when it resets (epoch ms), if the API said. */
  retryAt?: number;
}
