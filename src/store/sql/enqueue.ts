import type { SessionRecord } from '../../domain/types.js';
import { closeBeforeEnqueue, continuationRefusal, expiryFrom, isQuiet, joinRefusal } from '../rules/index.js';
import type { SessionRow, TurnRow } from '../rows.js';
import type { EnqueueTurnInput, EnqueueTurnResult } from '../store.js';
import { createSession, closeSession, makeRoom } from './lifecycle.js';
import { liveRow, returned, toSession, toTurn, turnRow } from './lookups.js';
import { sql } from './query.js';
import type { Tx } from './transaction.js';
import { grant } from './turn-endings.js';

/** `TurnJournal.enqueueTurn`: get-or-create the key's live session and journal the turn, in one transaction. */
export async function enqueueTurn(tx: Tx, input: EnqueueTurnInput): Promise<EnqueueTurnResult> {
  // The key's lock serializes everything that opens, closes or deletes the key's sessions, so
  // two first messages racing on two nodes still make one session; the partial UNIQUE index is
  // the backstop.
  await tx.lock('key', input.tenant, input.key);
  let row = await liveRow(tx, input.tenant, input.key, true);
  const now = await tx.now();
  const closed: SessionRecord[] = [];
  if (input.requireLive || input.regenerates !== undefined) {
    const refusal = continuationRefusal(input, row, input.regenerates === undefined ? undefined : await turnRow(tx, input.regenerates), now);
    if (refusal) throw refusal;
  }

  const reason = row ? closeBeforeEnqueue(input, row, now, (r) => toSession(tx, r)) : null;
  if (row && reason !== null) {
    closed.push(await closeSession(tx, row, reason, now));
    row = undefined;
  }

  let created = false;
  if (row) {
    const refusal = joinRefusal(input, row, now);
    if (refusal) throw refusal;
  } else {
    closed.push(...(await makeRoom(tx, input, now)));
    row = await createSession(tx, input, now);
    created = true;
  }

  // Auto-compaction goes first, on a quiet session this turn joins: journaled together, so the
  // prompt is never held back by it (it is acknowledged now) and never overtaken.
  const compaction =
    !created && input.compactFirst && input.regenerates === undefined && isQuiet(row, now) && input.compactFirst.wanted(toSession(tx, row)) ? input.compactFirst : null;
  const compactionSeq = row.turn_seq + 1;
  const seq = row.turn_seq + (compaction ? 2 : 1);
  const insertCompaction = compaction
    ? sql`INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, created_at)
        VALUES (${compaction.turnId}, ${row.id}, ${input.tenant}, ${input.key}, ${compactionSeq}, ${compaction.prompt}, 'queued', ${input.owner}, ${now})`
    : null;
  const insertTurn = sql`INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, created_at, regenerates)
    VALUES (${input.turnId}, ${row.id}, ${input.tenant}, ${input.key}, ${seq}, ${input.prompt}, 'queued', ${input.owner}, ${now}, ${input.regenerates ?? null})`;
  const added = compaction ? 2 : 1;
  const updateSession = sql`UPDATE sessions SET queued = queued + ${added}, turn_seq = ${seq}, last_active_at = ${now},
    expires_at = ${expiryFrom(now, input.idleTimeoutMs)} WHERE id = ${row.id}`;
  tx.bump(input.tenant, { turns_queued: added });
  if (insertCompaction) await tx.exec(insertCompaction);

  // Fast path: on a quiet session the new turn (or its compaction) heads its queue; granting
  // the lease in this same transaction saves a second durable commit before it runs.
  if (input.leaseTtlMs !== undefined && isQuiet(row, now)) {
    // The grant returns the rows as they end up, so the writes before it return none (reading
    // rows back is most of what a statement costs on SQLite). `row` predates the queued count
    // just written, but what a grant reads of it (the id, tenant and lease epoch) has not changed.
    await tx.exec(insertTurn);
    await tx.exec(updateSession);
    const g = await grant(tx, row, compaction?.turnId ?? input.turnId, input.owner, input.leaseTtlMs, now);
    const granted = { session: toSession(tx, g.session), created, closed, lease: g.lease, interrupted: g.interrupted };
    if (!compaction) return { ...granted, turn: toTurn(tx, g.turn) };
    const turn = await returned<TurnRow>(tx, sql`SELECT * FROM turns WHERE id = ${input.turnId}`, 'turn', input.turnId);
    return { ...granted, turn: toTurn(tx, turn), compaction: toTurn(tx, g.turn) };
  }
  const turn = await returned<TurnRow>(tx, sql`${insertTurn} RETURNING *`, 'turn', input.turnId);
  const session = await returned<SessionRow>(tx, sql`${updateSession} RETURNING *`, 'session', row.id);
  const result = { session: toSession(tx, session), turn: toTurn(tx, turn), created, closed };
  if (!compaction) return result;
  const queuedCompaction = await returned<TurnRow>(tx, sql`SELECT * FROM turns WHERE id = ${compaction.turnId}`, 'turn', compaction.turnId);
  return { ...result, compaction: toTurn(tx, queuedCompaction) };
}
