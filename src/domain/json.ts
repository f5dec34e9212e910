import type { ApprovalRecord } from './approvals.js';
import type { SessionRecord, TurnRecord } from './types.js';

/** The session JSON of the contract (CLI `--json` and HTTP alike). */
export interface SessionJSON {
  id: string;
  key: string;
  tenant: string;
  backend: string;
  agentSessionId: string | null;
  status: SessionRecord['status'];
  generation: number;
  config: {
    model: string | null;
    cwd: string;
    permissionMode: string | null;
    appendSystemPrompt: string | null;
    maxTurns: number | null;
    allowedTools?: string[];
    disallowedTools?: string[];
    /** Present when the session asks a person about tool calls. */
    approvals?: 'ask';
    approvalTimeoutSec?: number;
    approvalRules?: { allow?: string[]; deny?: string[] };
  };
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  turns: number;
  queued: number;
  usage: SessionRecord['usage'];
  context: SessionRecord['context'];
  createdAt: string;
  lastActiveAt: string;
  expiresAt: string | null;
  closedAt: string | null;
  closeReason: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function sessionToJSON(s: SessionRecord): SessionJSON {
  return {
    id: s.id,
    key: s.key,
    tenant: s.tenant,
    backend: s.backend,
    agentSessionId: s.agentSessionId,
    status: s.status,
    generation: s.generation,
    config: {
      model: s.config.model ?? null,
      cwd: s.config.cwd,
      permissionMode: s.config.permissionMode ?? null,
      appendSystemPrompt: s.config.appendSystemPrompt ?? null,
      maxTurns: s.config.maxTurns ?? null,
      // Environment values may hold secrets: never rendered.
      ...(s.config.allowedTools ? { allowedTools: s.config.allowedTools } : {}),
      ...(s.config.disallowedTools ? { disallowedTools: s.config.disallowedTools } : {}),
      ...(s.config.approvals ? { approvals: s.config.approvals } : {}),
      ...(s.config.approvalTimeoutSec ? { approvalTimeoutSec: s.config.approvalTimeoutSec } : {}),
      ...(s.config.approvalRules ? { approvalRules: s.config.approvalRules } : {}),
    },
    labels: s.labels,
    metadata: s.metadata,
    turns: s.turns,
    queued: s.queued,
    usage: s.usage,
    context: s.context,
    createdAt: iso(s.createdAt),
    lastActiveAt: iso(s.lastActiveAt),
    expiresAt: s.expiresAt === null ? null : iso(s.expiresAt),
    closedAt: s.closedAt === null ? null : iso(s.closedAt),
    closeReason: s.closeReason,
  };
}

export interface TurnJSON {
  id: string;
  sessionId: string;
  key: string;
  tenant: string;
  seq: number;
  status: TurnRecord['status'];
  prompt: string;
  text: string | null;
  error: TurnRecord['error'];
  usage: TurnRecord['usage'];
  context: TurnRecord['context'];
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** The turn whose reply this one regenerated, if any. */
  regenerates: string | null;
  /** A stop was asked for while it runs (it ends `interrupted` shortly). */
  interruptRequested: boolean;
}

export function turnToJSON(t: TurnRecord): TurnJSON {
  return {
    id: t.id,
    sessionId: t.sessionId,
    key: t.key,
    tenant: t.tenant,
    seq: t.seq,
    status: t.status,
    prompt: t.prompt,
    text: t.text,
    error: t.error,
    usage: t.usage,
    context: t.context,
    createdAt: iso(t.createdAt),
    startedAt: t.startedAt === null ? null : iso(t.startedAt),
    endedAt: t.endedAt === null ? null : iso(t.endedAt),
    durationMs: t.startedAt !== null && t.endedAt !== null ? t.endedAt - t.startedAt : null,
    regenerates: t.regenerates,
    interruptRequested: t.interruptRequested,
  };
}

/** An approval as the API and the CLI show it: the record, times as ISO strings. */
export interface ApprovalJSON extends Omit<ApprovalRecord, 'requestedAt' | 'decidedAt' | 'expiresAt' | 'answeredAt'> {
  requestedAt: string;
  decidedAt: string | null;
  expiresAt: string;
  answeredAt: string | null;
}

export function approvalToJSON(a: ApprovalRecord): ApprovalJSON {
  const at = (ms: number | null): string | null => (ms === null ? null : iso(ms));
  return { ...a, requestedAt: iso(a.requestedAt), decidedAt: at(a.decidedAt), expiresAt: iso(a.expiresAt), answeredAt: at(a.answeredAt) };
}
