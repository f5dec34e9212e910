import type { BackendName, Labels, SessionConfig, SessionRecord, SessionStatus, TurnRecord } from '../../domain/types.js';
import { COUNTER_COLUMNS, statsFrom, type CounterColumn } from '../rules/index.js';
import type { SessionRow, TurnRow } from '../rows.js';
import type { EndedTurn, EndedTurnFilter, SessionFilter, StoreStats, TurnFilter } from '../store.js';
import { liveRow, sessionRow, toSession, toTurn, turnRow } from './lookups.js';
import { empty, join, raw, sql, type Sql } from './query.js';
import type { Reader } from './transaction.js';

/** `StoreReads`: sessions, turns and totals, read without a transaction. */

export async function getLiveSession(r: Reader, tenant: string, key: string): Promise<SessionRecord | null> {
  const row = await liveRow(r, tenant, key);
  return row ? toSession(r, row) : null;
}

export async function getLatestSession(r: Reader, tenant: string, key: string): Promise<SessionRecord | null> {
  const row = await r.row<SessionRow>(sql`SELECT * FROM sessions WHERE tenant = ${tenant} AND key = ${key} ORDER BY generation DESC LIMIT 1`);
  return row ? toSession(r, row) : null;
}

export async function getSession(r: Reader, id: string): Promise<SessionRecord | null> {
  const row = await sessionRow(r, id);
  return row ? toSession(r, row) : null;
}

export async function listSessions(r: Reader, filter: SessionFilter): Promise<SessionRecord[]> {
  const d = r.dialect;
  const where: Sql[] = [sql`latest = ${d.bool(true)}`];
  if (filter.tenant !== undefined) where.push(sql`tenant = ${filter.tenant}`);
  if (filter.key !== undefined) where.push(sql`key = ${filter.key}`);
  if (filter.status !== undefined) where.push(sql`status = ${filter.status}`);
  if (filter.backend !== undefined) where.push(sql`backend = ${filter.backend}`);
  // substr and length count characters in both databases (code points, as [...s] does); no
  // LIKE, whose wildcards and case rules differ between them.
  if (filter.keyPrefix) where.push(sql`substr(key, 1, ${[...filter.keyPrefix].length}) = ${filter.keyPrefix}`);
  for (const [name, value] of Object.entries(filter.labels ?? {})) where.push(d.hasLabel(name, value));
  for (const [name, value] of Object.entries(filter.metadata ?? {})) {
    const scalar = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    // NaN, Infinity or a non-scalar equals no stored JSON value.
    where.push(scalar ? d.hasMetadata(name, value) : d.bool(false));
  }
  const rows = await r.rows<SessionRow>(
    sql`SELECT * FROM sessions WHERE ${join(where, ' AND ')}
      ORDER BY last_active_at DESC, ${d.rowOrder} DESC LIMIT ${filter.limit ?? d.noLimit} OFFSET ${filter.offset ?? 0}`,
  );
  return rows.map((row) => toSession(r, row));
}

export async function getTurn(r: Reader, id: string): Promise<TurnRecord | null> {
  const row = await turnRow(r, id);
  return row ? toTurn(r, row) : null;
}

export async function endedTurns(r: Reader, filter: EndedTurnFilter): Promise<EndedTurn[]> {
  type Row = TurnRow & { session_backend: string; session_config: unknown; session_labels: unknown };
  const rows = await r.rows<Row>(
    sql`SELECT t.*, s.backend AS session_backend, s.config AS session_config, s.labels AS session_labels
      FROM turns t JOIN sessions s ON s.id = t.session_id
      WHERE t.tenant = ${filter.tenant} AND t.ended_at IS NOT NULL AND t.ended_at >= ${filter.since} AND t.ended_at < ${filter.until}
      ORDER BY t.ended_at DESC LIMIT ${filter.limit}`,
  );
  return rows.map((row) => {
    const turn = toTurn(r, row);
    return {
      key: turn.key,
      status: turn.status,
      createdAt: turn.createdAt,
      startedAt: turn.startedAt,
      endedAt: turn.endedAt!,
      usage: turn.usage,
      backend: row.session_backend as BackendName,
      model: r.dialect.object<Partial<SessionConfig>>(row.session_config, {}).model ?? null,
      labels: r.dialect.object<Labels>(row.session_labels, {}),
    };
  });
}

export async function listTurns(r: Reader, filter: TurnFilter): Promise<TurnRecord[]> {
  const rows = await r.rows<TurnRow>(
    sql`SELECT * FROM turns WHERE tenant = ${filter.tenant} AND key = ${filter.key} AND seq > ${filter.afterSeq ?? 0}
      ORDER BY seq LIMIT ${filter.limit ?? r.dialect.noLimit}`,
  );
  return rows.map((row) => toTurn(r, row));
}

const SUMS = raw(COUNTER_COLUMNS.map((c) => `CAST(coalesce(sum(${c}), 0) AS BIGINT) AS ${c}`).join(', '));

export async function stats(r: Reader, tenant?: string): Promise<StoreStats> {
  const byTenant = tenant === undefined ? empty : sql` WHERE tenant = ${tenant}`;
  const counters = await r.row<Record<CounterColumn, number>>(sql`SELECT ${SUMS} FROM counters${byTenant}`);
  const groups = await r.rows<{ status: SessionStatus; n: number }>(sql`SELECT status, count(*) AS n FROM sessions${byTenant} GROUP BY status`);
  return statsFrom(counters, groups);
}
