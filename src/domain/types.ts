import type { ApprovalRules } from './approval-rules.js';

/**
 * The records Tether keeps. Pure data: no I/O, no classes. Times are epoch milliseconds
 * inside Tether; the JSON contract (see `json.ts`) renders them as ISO strings.
 */

export const BACKENDS = ['claude', 'codex'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const SESSION_STATUSES = ['idle', 'running', 'expired', 'closed', 'error'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Why a session stopped being the key's current one. */
export type CloseReason = 'reset' | 'expired' | 'evicted' | 'context' | 'deleted';

export const TURN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'interrupted'] as const;
export type TurnStatus = (typeof TURN_STATUSES)[number];

export const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk', 'auto'] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/** What an agent conversation is started with. Stored with the session; a new generation inherits it. */
export interface SessionConfig {
  model?: string;
  /** Absolute, existing directory the agent works in. */
  cwd: string;
  permissionMode?: PermissionMode;
  appendSystemPrompt?: string;
  maxTurns?: number;
  allowedTools?: string[];
  disallowedTools?: string[];
  /** `ask`: tool calls the agent would ask a person about become approvals. Absent: refused (`deny`). */
  approvals?: 'ask';
  /** How long this session's approvals wait for a decision; absent: the broker's setting. */
  approvalTimeoutSec?: number;
  /** Calls decided without a person, in Claude Code's rule syntax (see approval-rules.ts). */
  approvalRules?: ApprovalRules;
  /** Extra environment for the agent process (merged over the broker's own). */
  env?: Record<string, string>;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export interface ContextInfo {
  /** Input + cache-read + cache-write tokens of the last API call: what the next call starts from. */
  tokens: number;
  /** The model's context window in tokens. */
  window: number;
  /** tokens / window, 0 when unknown. */
  ratio: number;
}

export type Labels = Record<string, string>;

/**
 * Free-form data about a session, searchable by top-level value. Two names are links other
 * systems give a session: `taskId` (a task tracker's or orchestrator's task) and `mcpSessionId`
 * (the MCP session that drives it).
 */
export type Metadata = Record<string, unknown>;

export interface SessionRecord {
  id: string;
  tenant: string;
  key: string;
  backend: BackendName;
  /** The agent's own conversation id; null until the agent has started the conversation. */
  agentSessionId: string | null;
  status: SessionStatus;
  /** 1 for a key's first session; each reset, expiry or eviction opens the next generation. */
  generation: number;
  config: SessionConfig;
  labels: Labels;
  metadata: Metadata;
  /** Turns that reached an end state in this session. */
  turns: number;
  /** Highest turn sequence number ever given under this key (survives generations). */
  turnSeq: number;
  /** Turns waiting behind the running one. */
  queued: number;
  usage: Usage;
  context: ContextInfo;
  createdAt: number;
  lastActiveAt: number;
  /** When an idle session expires (sliding); null when the idle TTL is off or the session is closed. */
  expiresAt: number | null;
  closedAt: number | null;
  closeReason: CloseReason | null;
  /** The current lease, when a turn holds one. */
  lease: Lease | null;
  /**
   * Epoch of the last lease granted (0 before any), kept after the lease is released: the next
   * turn runs under `leaseEpoch + 1`. Internal to the broker (a woken agent process is fenced by
   * it); not part of the session JSON.
   */
  leaseEpoch: number;
}

/** The right to run one turn of one session. */
export interface Lease {
  sessionId: string;
  /** Who holds it: `host:pid:nonce` of a broker process. */
  owner: string;
  /** Random per grant; proves the holder is the one the store granted it to. */
  token: string;
  /** Increases with every grant; writes of a turn are fenced by it. */
  epoch: number;
  expiresAt: number;
  /**
   * Set on a renewed lease when someone asked the turn running under it to stop (from any
   * process or node, `Store.requestInterrupt`): the holder stops it.
   */
  interruptRequested?: true;
}

export interface TurnError {
  code: string;
  message: string;
}

export interface TurnRecord {
  id: string;
  sessionId: string;
  tenant: string;
  key: string;
  /** Position in the key's history; monotonic across generations. */
  seq: number;
  prompt: string;
  status: TurnStatus;
  /** The broker process that accepted the turn and will run it. */
  owner: string;
  /** Lease epoch the turn ran under; null until it starts. */
  epoch: number | null;
  text: string | null;
  error: TurnError | null;
  usage: Usage | null;
  context: ContextInfo | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Set on a turn that ran the previous turn's prompt again (`regenerate`): that turn's id. */
  regenerates: string | null;
  /** Someone asked for this running turn to stop (possibly from another process or node). */
  interruptRequested: boolean;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

export const EMPTY_CONTEXT: Readonly<ContextInfo> = Object.freeze({ tokens: 0, window: 0, ratio: 0 });

/** A session is live (counts against the cap, can take turns) while idle or running. */
export function isLive(status: SessionStatus): boolean {
  return status === 'idle' || status === 'running';
}
