import { z } from 'zod';
import type { CompactResult, Readiness, TetherStats, WakeResult } from '../broker/api.js';
import type { TetherEvent } from '../domain/events.js';
import type { BackendName, CloseReason, PermissionMode, SessionConfig, SessionRecord, TurnRecord } from '../domain/types.js';
import { SESSION_STATUSES, TURN_STATUSES } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { ApprovalRecord } from '../domain/approvals.js';
import type { UsageGrouping, UsageSeries } from '../domain/usage-series.js';
import {
  approvalSchema,
  approvalsResponseSchema,
  compactResponseSchema,
  interruptResponseSchema,
  sessionSchema,
  sessionsResponseSchema,
  sleepResponseSchema,
  turnSchema,
  turnsResponseSchema,
  wakeResponseSchema,
} from '../server/schemas.js';

/**
 * The daemon's JSON turned back into the records the library API returns. The answers are
 * checked against the same schemas the server is documented by, so a daemon of another version
 * fails loudly here instead of printing `undefined` somewhere later.
 *
 * The JSON omits what is internal to the broker; those fields get honest defaults:
 * - `lease: null` — leases are not published; a `running` status is the visible sign of one;
 * - `leaseEpoch: 0` — the fencing epoch is the broker's own;
 * - `turnSeq: turns` — the highest seq across generations is not published; `turns` is a lower
 *   bound, correct for a first generation;
 * - a turn's `owner: ''` and `epoch: null` — which broker process ran it is not published;
 * - `config.env` is never rendered (it may hold secrets), so it is absent.
 */

type SessionJSON = z.infer<typeof sessionSchema>;
type TurnJSON = z.infer<typeof turnSchema>;

export function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') || '(root)';
  throw new TetherError(ErrorCode.INTERNAL, `the daemon sent an unexpected ${what}: ${where}: ${issue?.message ?? 'invalid'}`);
}

function ms(iso: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new TetherError(ErrorCode.INTERNAL, `the daemon sent an invalid time ${JSON.stringify(iso)}`);
  return t;
}

const msOrNull = (iso: string | null): number | null => (iso === null ? null : ms(iso));

export function sessionFromJSON(s: SessionJSON): SessionRecord {
  const config: SessionConfig = { cwd: s.config.cwd };
  if (s.config.model !== null) config.model = s.config.model;
  // The server validates permission modes on the way in; what it renders is one of them.
  if (s.config.permissionMode !== null) config.permissionMode = s.config.permissionMode as PermissionMode;
  if (s.config.appendSystemPrompt !== null) config.appendSystemPrompt = s.config.appendSystemPrompt;
  if (s.config.maxTurns !== null) config.maxTurns = s.config.maxTurns;
  if (s.config.allowedTools) config.allowedTools = s.config.allowedTools;
  if (s.config.disallowedTools) config.disallowedTools = s.config.disallowedTools;
  if (s.config.approvals) config.approvals = s.config.approvals;
  if (s.config.approvalTimeoutSec) config.approvalTimeoutSec = s.config.approvalTimeoutSec;
  if (s.config.approvalRules) config.approvalRules = s.config.approvalRules;
  return {
    id: s.id,
    tenant: s.tenant,
    key: s.key,
    backend: s.backend as BackendName,
    agentSessionId: s.agentSessionId,
    status: s.status,
    generation: s.generation,
    config,
    labels: s.labels,
    metadata: s.metadata,
    turns: s.turns,
    turnSeq: s.turns,
    queued: s.queued,
    usage: s.usage,
    context: s.context,
    createdAt: ms(s.createdAt),
    lastActiveAt: ms(s.lastActiveAt),
    expiresAt: msOrNull(s.expiresAt),
    closedAt: msOrNull(s.closedAt),
    closeReason: s.closeReason as CloseReason | null,
    lease: null,
    leaseEpoch: 0,
  };
}

export function turnFromJSON(t: TurnJSON): TurnRecord {
  return {
    id: t.id,
    sessionId: t.sessionId,
    tenant: t.tenant,
    key: t.key,
    seq: t.seq,
    prompt: t.prompt,
    status: t.status,
    owner: '',
    epoch: null,
    text: t.text,
    error: t.error,
    usage: t.usage,
    context: t.context,
    createdAt: ms(t.createdAt),
    startedAt: msOrNull(t.startedAt),
    endedAt: msOrNull(t.endedAt),
    regenerates: t.regenerates,
    interruptRequested: t.interruptRequested,
  };
}

export function approvalFromJSON(a: z.infer<typeof approvalSchema>): ApprovalRecord {
  return { ...a, requestedAt: ms(a.requestedAt), decidedAt: msOrNull(a.decidedAt), expiresAt: ms(a.expiresAt), answeredAt: msOrNull(a.answeredAt) };
}

export const approvalAnswer = (value: unknown): ApprovalRecord => approvalFromJSON(parseAnswer(approvalSchema, value, 'approval'));
export const approvalsAnswer = (value: unknown): ApprovalRecord[] => parseAnswer(approvalsResponseSchema, value, 'approval list').approvals.map(approvalFromJSON);

export const sessionAnswer = (value: unknown): SessionRecord => sessionFromJSON(parseAnswer(sessionSchema, value, 'session'));
export const turnAnswer = (value: unknown): TurnRecord => turnFromJSON(parseAnswer(turnSchema, value, 'turn'));

export const sessionsAnswer = (value: unknown): SessionRecord[] => parseAnswer(sessionsResponseSchema, value, 'session list').sessions.map(sessionFromJSON);
export const turnsAnswer = (value: unknown): TurnRecord[] => parseAnswer(turnsResponseSchema, value, 'turn list').turns.map(turnFromJSON);

const usageSchema = z.object({ inputTokens: z.number(), outputTokens: z.number(), cacheReadTokens: z.number(), cacheWriteTokens: z.number(), costUsd: z.number() });
const countsOf = <const T extends readonly [string, ...string[]]>(names: T) => z.record(z.enum(names), z.number());

// Loose: what the CLI reads is checked, and whatever a newer daemon adds is passed on as it came.
const statsSchema = z.looseObject({
  tenant: z.string().nullable(),
  runningHere: z.number(),
  runners: z.looseObject({ live: z.number(), busy: z.number(), idle: z.number(), spares: z.number(), waiting: z.number(), maxLive: z.number() }),
  sessions: z.object({
    live: z.number(),
    byStatus: countsOf(SESSION_STATUSES),
    created: z.number(),
    expired: z.number(),
    evicted: z.number(),
    reset: z.number(),
  }),
  turns: countsOf(TURN_STATUSES),
  usage: usageSchema,
  turnTime: z.object({ totalMs: z.number(), turns: z.number() }).default({ totalMs: 0, turns: 0 }),
  averageTurnMs: z.number().nullable().default(null),
  errorRate: z.number().nullable().default(null),
});

export const statsAnswer = (value: unknown): TetherStats => parseAnswer(statsSchema, value, 'stats answer');

const usageSeriesSchema = z.looseObject({
  since: z.string(),
  until: z.string(),
  bucketMs: z.number(),
  by: z.string(),
  groups: z.array(z.string()),
  buckets: z.array(
    z.looseObject({
      at: z.string(),
      group: z.string(),
      turns: z.number(),
      failed: z.number(),
      inputTokens: z.number(),
      outputTokens: z.number(),
      cacheReadTokens: z.number(),
      cacheWriteTokens: z.number(),
      costUsd: z.number(),
      latencyMs: z.object({ p50: z.number(), p90: z.number(), p99: z.number() }),
    }),
  ),
  truncated: z.boolean(),
});

/** `GET /v1/usage` as the library returns it (times as epoch ms). */
export const usageAnswer = (value: unknown): UsageSeries => {
  const s = parseAnswer(usageSeriesSchema, value, 'usage answer');
  return {
    since: Date.parse(s.since),
    until: Date.parse(s.until),
    bucketMs: s.bucketMs,
    by: s.by as UsageGrouping,
    groups: s.groups,
    buckets: s.buckets.map((b) => ({ ...b, at: Date.parse(b.at) })),
    truncated: s.truncated,
  };
};

const readySchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  store: z.object({ ok: z.boolean(), kind: z.string(), error: z.string().optional() }),
  agent: z.object({ ok: z.boolean(), error: z.string().optional() }),
});

export function readinessAnswer(value: unknown): Readiness {
  const r = parseAnswer(readySchema, value, '/readyz answer');
  return { ready: r.status === 'ready', store: r.store, agent: r.agent };
}

export const compactAnswer = (value: unknown): CompactResult => parseAnswer(compactResponseSchema, value, 'compaction');
export const wakeAnswer = (value: unknown): WakeResult => parseAnswer(wakeResponseSchema, value, 'wake answer');
export const sleepAnswer = (value: unknown): { slept: boolean } => parseAnswer(sleepResponseSchema, value, 'sleep answer');
export const interruptAnswer = (value: unknown): { interrupted: boolean; turnId: string | null } => parseAnswer(interruptResponseSchema, value, 'interrupt answer');

/**
 * An event's data. Only the envelope is checked (an object with a string `type`): event payloads
 * grow new fields, and the CLI prints them as they come.
 */
export function eventOf(data: string): TetherEvent {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new TetherError(ErrorCode.INTERNAL, `the daemon sent an event that is not JSON: ${data.slice(0, 200)}`);
  }
  if (typeof value !== 'object' || value === null || !('type' in value) || typeof value.type !== 'string') {
    throw new TetherError(ErrorCode.INTERNAL, `the daemon sent an event without a type: ${data.slice(0, 200)}`);
  }
  return value as TetherEvent;
}
