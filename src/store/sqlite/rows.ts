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
} from '../../domain/types.js';

import { usageFromColumns, usageToColumns } from '../rules.js';

/** A `sessions` row as better-sqlite3 returns it. */
export interface SessionRow {
  id: string;
  tenant: string;
  key: string;
  backend: string;
  agent_session_id: string | null;
  status: string;
  live: number;
  latest: number;
  generation: number;
  config: string;
  labels: string;
  metadata: string;
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

/** A `turns` row as better-sqlite3 returns it. */
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
  /** Absent in rows read before migration 6. */
  regenerates?: string | null;
  interrupt_requested?: number;
}


function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    // A hand-edited row should not make the whole listing fail.
    return fallback;
  }
}

/** The session row's lease, or null when no one holds it (an expired lease still counts until freed). */
export function leaseFromRow(row: SessionRow): Lease | null {
  if (row.lease_token === null || row.lease_owner === null || row.lease_expires_at === null) return null;
  return {
    sessionId: row.id,
    owner: row.lease_owner,
    token: row.lease_token,
    epoch: row.lease_epoch,
    expiresAt: row.lease_expires_at,
  };
}

/** A sessions row as the domain record. */
export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    key: row.key,
    backend: row.backend as BackendName,
    agentSessionId: row.agent_session_id,
    status: row.status as SessionStatus,
    generation: row.generation,
    config: parseJson<SessionConfig>(row.config, { cwd: '' }),
    labels: parseJson<Labels>(row.labels, {}),
    metadata: parseJson<Metadata>(row.metadata, {}),
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
  };
}

/** A turns row as the domain record; absent usage/context/error columns become null. */
export function turnFromRow(row: TurnRow): TurnRecord {
  const error: TurnError | null =
    row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' };
  const usage: Usage | null =
    row.input_tokens === null
      ? null
      : usageFromColumns({
          input_tokens: row.input_tokens,
          output_tokens: row.output_tokens ?? 0,
          cache_read_tokens: row.cache_read_tokens ?? 0,
          cache_write_tokens: row.cache_write_tokens ?? 0,
          cost_micros: row.cost_micros ?? 0,
        });
  const context: ContextInfo | null =
    row.context_tokens === null
      ? null
      : { tokens: row.context_tokens, window: row.context_window ?? 0, ratio: row.context_ratio ?? 0 };
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
    error,
    usage,
    context,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    regenerates: row.regenerates ?? null,
    interruptRequested: row.interrupt_requested === 1,
  };
}

/** Named parameters of the columns a finished turn writes. */
export function finishedTurnParams(input: {
  usage: Usage | null;
  context: ContextInfo | null;
  error: TurnError | null;
}): Record<string, number | string | null> {
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
