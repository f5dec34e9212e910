import type { SharedEvent, SharedEventFilter, SharedEventInput } from '../store.js';
import { insertRows, sql } from './query.js';
import type { Reader, Tx } from './transaction.js';

/** `EventJournal`: the events every node's turns emit, in one id order. */

export async function appendEvents(tx: Tx, events: SharedEventInput[]): Promise<void> {
  // Readers tail by "id after N". Ids are drawn before commit, so two appenders could commit
  // out of id order and a tail would step over the later-committed, smaller id for good.
  // One appender at a time (the lock goes only after the commit is visible) rules that out.
  await tx.lock('events');
  const now = await tx.now();
  const rows = events.map((e) => [e.tenant, e.turnId, e.seq, e.origin, now, JSON.stringify(e.event)]);
  // A multi-row VALUES list is inserted in its order, so ids follow the order given. A number a
  // turn already has is left out: its first writer wins (two nodes ending one turn, say).
  for (const statement of insertRows('events', ['tenant', 'turn_id', 'seq', 'origin', 'created_at', 'event'], rows)) {
    await tx.exec(sql`${statement} ON CONFLICT DO NOTHING`);
  }
  await tx.eventsAppended();
}

export async function readEvents(r: Reader, filter: SharedEventFilter): Promise<SharedEvent[]> {
  const limit = Math.max(0, Math.trunc(filter.limit));
  const rows = await r.rows<{ id: number; tenant: string; turn_id: string | null; seq: number | null; origin: string; event: string }>(
    'turnId' in filter
      ? sql`SELECT id, tenant, turn_id, seq, origin, event FROM events WHERE turn_id = ${filter.turnId} AND seq > ${filter.afterSeq} ORDER BY seq LIMIT ${limit}`
      : sql`SELECT id, tenant, turn_id, seq, origin, event FROM events WHERE id > ${filter.afterId} AND origin <> ${filter.excludeOrigin ?? ''} ORDER BY id LIMIT ${limit}`,
  );
  return rows.map((row) => ({ id: row.id, tenant: row.tenant, turnId: row.turn_id, seq: row.seq, origin: row.origin, event: JSON.parse(row.event) as unknown }));
}

export async function lastEventId(r: Reader): Promise<number> {
  const row = await r.row<{ id: number }>(sql`SELECT CAST(coalesce(max(id), 0) AS BIGINT) AS id FROM events`);
  return row?.id ?? 0;
}

export async function lastEventSeq(r: Reader, turnId: string): Promise<number> {
  const row = await r.row<{ seq: number }>(sql`SELECT coalesce(max(seq), 0) AS seq FROM events WHERE turn_id = ${turnId}`);
  return row?.seq ?? 0;
}

export async function pruneEvents(tx: Tx, olderThanMs: number): Promise<number> {
  return tx.exec(sql`DELETE FROM events WHERE created_at < ${(await tx.now()) - olderThanMs}`);
}
