import type { ApprovalJSON } from './json.js';
import type { ContextInfo, TurnError, TurnRecord, Usage } from './types.js';

/**
 * TetherEvents: what a turn and a session report, normalized across backends. One per NDJSON
 * line (`tether send --json`) or per SSE event (`event:` is the type). Every event names its
 * tenant and key; turn events also their turn.
 */
interface Base {
  tenant: string;
  key: string;
  /** ISO time the event was emitted. */
  at: string;
}

interface TurnBase extends Base {
  turnId: string;
  sessionId: string;
}

export interface TurnQueuedEvent extends TurnBase {
  type: 'turn.queued';
  seq: number;
  /** Turns ahead of this one (0: it runs next). */
  position: number;
}

export interface TurnStartedEvent extends TurnBase {
  type: 'turn.started';
  /** The agent conversation this turn continues; null for a session's first turn. */
  agentSessionId: string | null;
  resumed: boolean;
  /** Where the agent process came from: a warm runner, a parked spare, or a cold start. */
  runner: 'warm' | 'spare' | 'cold';
}

export interface TextDeltaEvent extends TurnBase {
  type: 'text.delta';
  text: string;
}

export interface MessageEvent extends TurnBase {
  type: 'message';
  role: 'assistant';
  text: string;
}

export interface ToolUseEvent extends TurnBase {
  type: 'tool.use';
  toolUseId: string;
  name: string;
  input: unknown;
}

export interface ToolResultEvent extends TurnBase {
  type: 'tool.result';
  toolUseId: string;
  content: string;
  isError: boolean;
}

export interface TurnCompletedEvent extends TurnBase {
  type: 'turn.completed';
  agentSessionId: string | null;
  text: string;
  usage: Usage;
  context: ContextInfo;
  durationMs: number;
}

export interface TurnFailedEvent extends Omit<TurnBase, 'sessionId'> {
  type: 'turn.failed';
  /** Absent when the turn failed before a session was found for it. */
  sessionId?: string;
  error: TurnError;
}

/**
 * A tool call (or question) of a running turn waits for a person (`approval.requested`), or was
 * decided (`approval.decided`: allowed, denied, or expired). The event carries the approval
 * record whole; its `id` is the approval's (decide it with `POST /v1/approvals/{id}`).
 */
export interface ApprovalEvent extends ApprovalJSON {
  type: 'approval.requested' | 'approval.decided';
  at: string;
}

export type SessionEventType =
  | 'session.created'
  | 'session.reset'
  | 'session.compacted'
  | 'session.expired'
  | 'session.evicted'
  | 'session.recovered';

export interface SessionEvent extends Base {
  type: SessionEventType;
  sessionId: string;
  generation: number;
  /** Why it happened, where that is not the type itself (`reset`: `user` or `context`). */
  reason?: string;
  /** `session.recovered`: the turn that found the conversation gone, and the conversation lost. */
  turnId?: string;
  previousAgentSessionId?: string;
  agentSessionId?: string;
  /** `session.compacted`: context tokens before and after. */
  preTokens?: number;
  postTokens?: number;
}

export type TurnEvent =
  | TurnQueuedEvent
  | TurnStartedEvent
  | TextDeltaEvent
  | MessageEvent
  | ToolUseEvent
  | ToolResultEvent
  | ApprovalEvent
  | TurnCompletedEvent
  | TurnFailedEvent;

export type TetherEvent = TurnEvent | SessionEvent;
export type TetherEventType = TetherEvent['type'];

/** Payload of a successful turn: the `turn.completed` event. */
export type TurnResult = TurnCompletedEvent;

export function isTerminalTurnEvent(event: TetherEvent): event is TurnCompletedEvent | TurnFailedEvent {
  return event.type === 'turn.completed' || event.type === 'turn.failed';
}

/**
 * The `turn.failed` a journaled turn that did not succeed stands for: ended by another process
 * (a lease takeover, the janitor), or rebuilt from the journal for a late follower.
 */
export function failedTurnEvent(turn: TurnRecord, at: string): TurnFailedEvent {
  return {
    type: 'turn.failed',
    tenant: turn.tenant,
    key: turn.key,
    turnId: turn.id,
    sessionId: turn.sessionId,
    error: turn.error ?? { code: 'INTERRUPTED', message: 'the turn did not finish' },
    at,
  };
}
