import { validateKey, validateLabels, validateTenant } from '../domain/keys.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { SessionPatch } from '../store/store.js';
import type { ListFilter, SessionUpdate, TetherStats } from './api.js';
import type { BrokerContext } from './context.js';
import type { TurnsInFlight } from './in-flight.js';
import { sessionUpdateSchema } from './send-options.js';

/*
 * What a caller reads of a key, and changes about it, outside a turn: the broker's facade
 * delegates here. Every call takes the tenant it acts for (validated) and never sees another's.
 */

type OpsContext = Pick<BrokerContext, 'store' | 'config' | 'emitter' | 'labelQuotas' | 'usageGates' | 'pool'>;

/** The tenant a call acts for: the given one, or the configured default. */
export function tenantOf(ctx: Pick<BrokerContext, 'config'>, options?: { tenant?: string }): string {
  return validateTenant(options?.tenant ?? ctx.config.tenant);
}

const notFound = (key: string): TetherError => new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);

export async function getSession(ctx: OpsContext, tenant: string, key: string): Promise<SessionRecord | null> {
  validateKey(key);
  return (await ctx.store.getLiveSession(tenant, key)) ?? (await ctx.store.getLatestSession(tenant, key));
}

export async function peekSession(ctx: OpsContext, tenant: string, key: string) {
  validateKey(key);
  const live = await ctx.store.getLiveSession(tenant, key);
  if (!live) return { exists: false, busy: false, sessionId: null, agentSessionId: null, queued: 0, awake: false };
  const now = await ctx.store.now();
  const leased = live.lease !== null && live.lease.expiresAt > now;
  return { exists: true, busy: leased || live.queued > 0, sessionId: live.id, agentSessionId: live.agentSessionId, queued: live.queued, awake: ctx.pool.holds(live.id) };
}

export function listSessions(ctx: OpsContext, tenant: string, filter: ListFilter): Promise<SessionRecord[]> {
  return ctx.store.listSessions({ ...filter, tenant });
}

export function listTurns(ctx: OpsContext, tenant: string, key: string, limit?: number): Promise<TurnRecord[]> {
  validateKey(key);
  return ctx.store.listTurns({ tenant, key, ...(limit ? { limit } : {}) });
}

export async function getTurn(ctx: OpsContext, tenant: string, turnId: string): Promise<TurnRecord | null> {
  const turn = await ctx.store.getTurn(turnId);
  // Another tenant's turn is indistinguishable from a missing one.
  return turn && turn.tenant === tenant ? turn : null;
}

export async function resetSession(ctx: OpsContext, tenant: string, key: string): Promise<SessionRecord> {
  validateKey(key);
  const closed = await ctx.store.closeSession(tenant, key, 'reset');
  if (closed) {
    ctx.emitter.closed(closed);
    return closed;
  }
  const latest = await ctx.store.getLatestSession(tenant, key);
  if (!latest) throw notFound(key);
  return latest;
}

export async function deleteKey(ctx: OpsContext, tenant: string, key: string): Promise<void> {
  validateKey(key);
  if ((await ctx.store.deleteKey(tenant, key)) === 0) throw notFound(key);
}

export async function updateSession(ctx: OpsContext, tenant: string, key: string, patch: SessionUpdate): Promise<SessionRecord> {
  validateKey(key);
  const parsed = sessionUpdateSchema.safeParse(patch);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TetherError(ErrorCode.INVALID_INPUT, `invalid update ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const { model, permissionMode, labels, metadata } = parsed.data;
  if (labels) validateLabels(Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => e[1] !== null)));
  const config: NonNullable<SessionPatch['config']> = {};
  if (model !== undefined) config.model = model;
  if (permissionMode !== undefined) config.permissionMode = permissionMode;
  // No runner to touch: the next turn's node switches its warm process, or resumes cold.
  return ctx.store.updateSession(tenant, key, {
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(labels ? { labels } : {}),
    ...(metadata ? { metadata } : {}),
    ...(ctx.labelQuotas ? { labelQuotas: ctx.labelQuotas } : {}),
  });
}

/**
 * Stops the key's running turn: at once when this process runs it, else at its process's next
 * lease renewal (the request is marked in the store).
 */
export async function interruptKey(ctx: OpsContext, inFlight: TurnsInFlight, tenant: string, key: string): Promise<{ turnId: string | null }> {
  validateKey(key);
  const running = (await ctx.store.listTurns({ tenant, key })).filter((t) => t.status === 'running');
  for (const turn of running) {
    const handle = inFlight.handleOf(turn.id);
    if (handle) {
      handle.interrupt();
      return { turnId: turn.id };
    }
  }
  for (const turn of running) {
    if (await ctx.store.requestInterrupt(turn.id)) return { turnId: turn.id };
  }
  return { turnId: null };
}

export async function statsOf(ctx: OpsContext, inFlight: TurnsInFlight, options?: { tenant?: string }): Promise<TetherStats> {
  const tenant = options?.tenant === undefined ? null : validateTenant(options.tenant);
  const stats = await ctx.store.stats(tenant ?? undefined);
  // The contract has one limit: the one that holds turns back longest.
  const limit = ctx.usageGates.closed().sort((a, b) => b.until - a.until)[0];
  const ended = stats.turns.succeeded + stats.turns.failed + stats.turns.interrupted;
  return {
    ...stats,
    averageTurnMs: stats.turnTime.turns > 0 ? Math.round(stats.turnTime.totalMs / stats.turnTime.turns) : null,
    errorRate: ended > 0 ? Math.round((stats.turns.failed / ended) * 10_000) / 10_000 : null,
    tenant,
    runningHere: inFlight.running,
    runners: ctx.pool.stats,
    ...(limit ? { usageLimit: { until: new Date(limit.until).toISOString(), reason: limit.reason, backend: limit.backend } } : {}),
  };
}
