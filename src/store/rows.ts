import type {
  BackendName,
  CloseReason,
  ContextInfo,
  Labels,
  Lease,
  Metadata,
  SessionConfig,
  SessionRecord,
  SessionStatus,
  TurnError,
  TurnRecord,
  TurnStatus,
  Usage,
} from '../domain/types.js';
import type { ApprovalDecider, ApprovalKind, ApprovalRecord, ApprovalRemember, ApprovalStatus } from '../domain/approvals.js';
import { usageFromColumns, usageToColumns } from './rules/index.js';

/**
 * Table rows to domain records, written once for every adapter. The two adapters' tables have the
 * same columns; what their drivers hand back differs in two ways only: a boolean column (SQLite: 0
 * or 1; PostgreSQL: a boolean) and a JSON column (SQLite: its text; PostgreSQL: JSONB, already
 * parsed). Each adapter's dialect says how to read those two (`RowReader`). A new column is added
 * here once.
 */

/** A `sessions` row as a driver returns it (`live`, `latest`: the dialect's flags; JSON columns: its JSON). */
export interface SessionRow {
  id: string;
  tenant: string;
  key: string;
  backend: string;
  agent_session_id: string | null;
  status: string;
  live: unknown;
  latest: unknown;
  generation: number;
  config: unknown;
  labels: unknown;
  metadata: unknown;
  turns: number;
  turn_seq: number;
  queued: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_micros: number;
  context_tokens: number;
  context_window: number;
  context_ratio: number;
  created_at: number;
  last_active_at: number;
  expires_at: number | null;
  closed_at: number | null;
  close_reason: string | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_epoch: number;
  lease_expires_at: number | null;
}

/** A `turns` row as a driver returns it. */
export interface TurnRow {
  id: string;
  session_id: string;
  tenant: string;
  key: string;
  seq: number;
  prompt: string;
  status: string;
  owner: string;
  epoch: number | null;
  text: string | null;
  error_code: string | null;
  error_message: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost_micros: number | null;
  context_tokens: number | null;
  context_window: number | null;
  context_ratio: number | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  regenerates: string | null;
  interrupt_requested: unknown;
}

/** How one adapter's driver hands back the columns whose representation differs. */
export interface RowReader {
  flag(value: unknown): boolean;
  /** A JSON object column; `fallback` when the row holds something unreadable (a hand edit). */
  object<T extends object>(value: unknown, fallback: T): T;
}

/** The session row's lease, or null when no one holds it (an expired lease still counts until freed). */
export function leaseFromRow(row: Pick<SessionRow, 'id' | 'lease_owner' | 'lease_token' | 'lease_epoch' | 'lease_expires_at'>): Lease | null {
  if (row.lease_token === null || row.lease_owner === null || row.lease_expires_at === null) return null;
  return { sessionId: row.id, owner: row.lease_owner, token: row.lease_token, epoch: row.lease_epoch, expiresAt: row.lease_expires_at };
}

export function sessionFromRow(row: SessionRow, read: RowReader): SessionRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    key: row.key,
    backend: row.backend as BackendName,
    agentSessionId: row.agent_session_id,
    status: row.status as SessionStatus,
    generation: row.generation,
    config: read.object<SessionConfig>(row.config, { cwd: '' }),
    labels: read.object<Labels>(row.labels, {}),
    metadata: read.object<Metadata>(row.metadata, {}),
    turns: row.turns,
    turnSeq: row.turn_seq,
    queued: row.queued,
    usage: usageFromColumns(row),
    context: { tokens: row.context_tokens, window: row.context_window, ratio: row.context_ratio },
    createdAt: row.created_at,
    lastActiveAt: row.last_active_at,
    expiresAt: row.expires_at,
    closedAt: row.closed_at,
    closeReason: row.close_reason as CloseReason | null,
    lease: leaseFromRow(row),
    leaseEpoch: row.lease_epoch,
  };
}

/** Absent usage, context and error columns become null. */
export function turnFromRow(row: TurnRow, read: RowReader): TurnRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    tenant: row.tenant,
    key: row.key,
    seq: row.seq,
    prompt: row.prompt,
    status: row.status as TurnStatus,
    owner: row.owner,
    epoch: row.epoch,
    text: row.text,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    usage:
      row.input_tokens === null
        ? null
        : usageFromColumns({
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens ?? 0,
            cache_read_tokens: row.cache_read_tokens ?? 0,
            cache_write_tokens: row.cache_write_tokens ?? 0,
            cost_micros: row.cost_micros ?? 0,
          }),
    context: row.context_tokens === null ? null : { tokens: row.context_tokens, window: row.context_window ?? 0, ratio: row.context_ratio ?? 0 },
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    regenerates: row.regenerates,
    interruptRequested: read.flag(row.interrupt_requested),
  };
}

/** The columns an ended turn writes (finishTurn, and the history an import carries), by name. */
export interface EndedTurnColumns {
  error_code: string | null;
  error_message: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost_micros: number | null;
  context_tokens: number | null;
  context_window: number | null;
  context_ratio: number | null;
}

export function endedTurnColumns(input: { usage: Usage | null; context: ContextInfo | null; error: TurnError | null }): EndedTurnColumns {
  const u = input.usage ? usageToColumns(input.usage) : null;
  return {
    error_code: input.error?.code ?? null,
    error_message: input.error?.message ?? null,
    input_tokens: u?.input_tokens ?? null,
    output_tokens: u?.output_tokens ?? null,
    cache_read_tokens: u?.cache_read_tokens ?? null,
    cache_write_tokens: u?.cache_write_tokens ?? null,
    cost_micros: u?.cost_micros ?? null,
    context_tokens: input.context?.tokens ?? null,
    context_window: input.context?.window ?? null,
    context_ratio: input.context?.ratio ?? null,
  };
}

/** An `approvals` row as a driver returns it (`request`, `answers`: the dialect's JSON). */
export interface ApprovalRow {
  id: string;
  tenant: string;
  key: string;
  session_id: string;
  turn_id: string;
  kind: string;
  tool_use_id: string;
  tool: string;
  request: unknown;
  status: string;
  decided_by: string | null;
  message: string | null;
  remember: string | null;
  answers: unknown;
  requested_at: number;
  decided_at: number | null;
  expires_at: number;
  answered_at: number | null;
}

/** What the `request` JSON column of an approval holds. */
interface ApprovalRequestColumn {
  input?: Record<string, unknown>;
  title?: string | null;
  suggestions?: unknown[];
}

/** The `request` JSON column of a new approval. */
export function approvalRequestColumn(request: Pick<ApprovalRecord, 'input' | 'title' | 'suggestions'>): ApprovalRequestColumn {
  return { input: request.input, title: request.title, suggestions: request.suggestions };
}

export function approvalFromRow(row: ApprovalRow, read: RowReader): ApprovalRecord {
  const request = read.object<ApprovalRequestColumn>(row.request, {});
  return {
    id: row.id,
    tenant: row.tenant,
    key: row.key,
    sessionId: row.session_id,
    turnId: row.turn_id,
    kind: row.kind as ApprovalKind,
    toolUseId: row.tool_use_id,
    tool: row.tool,
    input: request.input ?? {},
    title: request.title ?? null,
    suggestions: Array.isArray(request.suggestions) ? request.suggestions : [],
    status: row.status as ApprovalStatus,
    decidedBy: row.decided_by as ApprovalDecider | null,
    message: row.message,
    remember: row.remember as ApprovalRemember | null,
    answers: row.answers === null ? null : read.object<Record<string, string>>(row.answers, {}),
    requestedAt: row.requested_at,
    decidedAt: row.decided_at,
    expiresAt: row.expires_at,
    answeredAt: row.answered_at,
  };
}
