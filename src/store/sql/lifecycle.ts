import { ZERO_USAGE, type CloseReason, type Labels, type Metadata, type SessionRecord } from '../../domain/types.js';
import { LEASE_STOPPED, assertQuota, closing, evictionsNeeded, isCapped, nothingToEvict, quotasOf, usageToColumns } from '../rules/index.js';
import type { SessionRow } from '../rows.js';
import type { EnqueueTurnInput } from '../store.js';
import { liveTotal, returned, toSession } from './lookups.js';
import { assign, insertInto, sql } from './query.js';
import { SWEEPS } from './sweeps.js';
import type { Tx } from './transaction.js';
import { interruptRunning } from './turn-endings.js';

/** A session's generations begin and end: creation under the cap and label quotas, and closing. */

/** What session creation needs of an enqueue or an import. */
export type CreateSessionInput = Pick<EnqueueTurnInput, 'tenant' | 'key' | 'backend' | 'config' | 'labels' | 'metadata' | 'newSessionId' | 'labelQuotas'>;

/** Opens the key's next generation (the caller holds the key's lock and made room under the cap). */
export async function createSession(tx: Tx, input: CreateSessionInput, now: number): Promise<SessionRow> {
  const d = tx.dialect;
  const previous = await tx.row<Pick<SessionRow, 'id' | 'generation' | 'turn_seq' | 'labels' | 'metadata'>>(
    sql`SELECT id, generation, turn_seq, labels, metadata FROM sessions WHERE tenant = ${input.tenant} AND key = ${input.key} ORDER BY generation DESC LIMIT 1`,
  );
  if (previous) await tx.exec(sql`UPDATE sessions SET latest = ${d.bool(false)} WHERE id = ${previous.id}`);
  // Labels and metadata carry over to the next generation (a client may send them with the first
  // message only); those given now are merged over them.
  const labels: Labels = { ...d.object<Labels>(previous?.labels, {}), ...input.labels };
  const metadata: Metadata = { ...d.object<Metadata>(previous?.metadata, {}), ...input.metadata };
  await checkQuotas(tx, input.tenant, labels, input.labelQuotas, null);
  const row = await returned<SessionRow>(
    tx,
    sql`${insertInto('sessions', {
      id: input.newSessionId,
      tenant: input.tenant,
      key: input.key,
      backend: input.backend,
      status: 'idle',
      ...d.liveColumn(true),
      latest: d.bool(true),
      generation: (previous?.generation ?? 0) + 1,
      config: d.json(input.config),
      labels: d.json(labels),
      metadata: d.json(metadata),
      turn_seq: previous?.turn_seq ?? 0,
      ...usageToColumns(ZERO_USAGE),
      created_at: now,
      last_active_at: now,
    })} RETURNING *`,
    'session',
    input.newSessionId,
  );
  tx.bump(input.tenant, { created: 1, live: 1 });
  return row;
}

/**
 * Label quotas: at most N live sessions of the tenant per value of a label; `except` is a
 * session already counted (an update of its own labels). Each (tenant, label, value) counted
 * is first locked until commit, so two nodes cannot both take the last place: the second
 * counts after the first has committed. Locks go in label-name order (no deadlock between
 * two checks), and after the key and cap locks, with nothing waited for after them.
 */
export async function checkQuotas(tx: Tx, tenant: string, labels: Labels, quotas: Record<string, number> | undefined, except: string | null): Promise<void> {
  const d = tx.dialect;
  for (const quota of quotasOf(labels, quotas)) {
    await tx.lock('quota', tenant, quota.name, quota.value);
    const row = await tx.row<{ n: number }>(
      sql`SELECT count(*) AS n FROM sessions
        WHERE tenant = ${tenant} AND live = ${d.bool(true)} AND id <> ${except ?? ''} AND ${d.hasLabel(quota.name, quota.value)}`,
    );
    assertQuota(quota, Number(row?.n ?? 0));
  }
}

/** Makes room for one more live session under the cap, or throws LIMIT_REACHED. */
export async function makeRoom(tx: Tx, input: Pick<EnqueueTurnInput, 'maxSessions' | 'onLimit'>, now: number): Promise<SessionRecord[]> {
  if (!isCapped(input.maxSessions)) return [];
  // Creations under a cap take turns, so two nodes cannot both take the last free place.
  await tx.lock('cap');
  const live = await liveTotal(tx);
  const needed = evictionsNeeded(input, live);
  if (needed === 0) return [];
  // SKIP LOCKED: the victim is the least recently used quiet session that no other
  // transaction is writing this instant; waiting for one could deadlock with a transaction
  // that holds it and waits for the cap lock to open its key's next generation.
  const victims = await tx.rows<SessionRow>(SWEEPS.lru(tx.dialect, now, needed));
  if (victims.length < needed) throw nothingToEvict(input, live);
  const closed: SessionRecord[] = [];
  for (const row of victims) closed.push(await closeSession(tx, row, 'evicted', now));
  return closed;
}

/** Closes a live session (locked by the caller). A turn stranded under an expired lease ends first. */
export async function closeSession(tx: Tx, row: SessionRow, reason: CloseReason, now: number): Promise<SessionRecord> {
  await interruptRunning(tx, row, now, LEASE_STOPPED);
  const { status, delta } = closing(reason);
  const updated = await returned<SessionRow>(
    tx,
    sql`UPDATE sessions SET ${assign({
      status,
      ...tx.dialect.liveColumn(false),
      closed_at: now,
      close_reason: reason,
      expires_at: null,
      lease_owner: null,
      lease_token: null,
      lease_expires_at: null,
    })} WHERE id = ${row.id} RETURNING *`,
    'session',
    row.id,
  );
  tx.bump(row.tenant, delta);
  return toSession(tx, updated);
}
