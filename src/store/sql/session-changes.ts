import { randomUUID } from 'node:crypto';
import type { CloseReason, SessionRecord } from '../../domain/types.js';
import { assertQuiet, assertReplaceable, expiryFrom, importedDelta, noLiveSession, patched, usageToColumns } from '../rules/index.js';
import { endedTurnColumns, type SessionRow } from '../rows.js';
import type { ImportSessionInput, SessionPatch } from '../store.js';
import { checkQuotas, closeSession as close, createSession, makeRoom } from './lifecycle.js';
import { liveRow, returned, toSession } from './lookups.js';
import { assign, insertRows, sql } from './query.js';
import type { Tx } from './transaction.js';
import { appendTranscript } from './transcripts.js';

/** The project key of imported transcripts until the agent writes them under its own. */
const IMPORT_PROJECT_KEY = 'import';

/** Close, delete, update and import: every change to a key's sessions that is not a turn. */

export async function closeSession(tx: Tx, tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null> {
  await tx.lock('key', tenant, key);
  const row = await liveRow(tx, tenant, key, true);
  if (!row) return null;
  const now = await tx.now();
  assertQuiet(row, now);
  return close(tx, row, reason, now);
}

export async function deleteKey(tx: Tx, tenant: string, key: string): Promise<number> {
  await tx.lock('key', tenant, key);
  const row = await liveRow(tx, tenant, key, true);
  if (row) {
    const now = await tx.now();
    assertQuiet(row, now);
    // Closing first ends a turn stranded under an expired lease and keeps the counters true.
    await close(tx, row, 'deleted', now);
  }
  const conversations = sql`SELECT agent_session_id FROM sessions WHERE tenant = ${tenant} AND key = ${key} AND agent_session_id IS NOT NULL`;
  await tx.exec(sql`DELETE FROM transcripts WHERE agent_session_id IN (${conversations})`);
  await tx.exec(sql`DELETE FROM transcript_entries WHERE agent_session_id IN (${conversations})`);
  await tx.exec(sql`DELETE FROM approvals WHERE tenant = ${tenant} AND key = ${key}`);
  await tx.exec(sql`DELETE FROM turns WHERE tenant = ${tenant} AND key = ${key}`);
  return tx.exec(sql`DELETE FROM sessions WHERE tenant = ${tenant} AND key = ${key}`);
}

export async function updateSession(tx: Tx, tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord> {
  const d = tx.dialect;
  // The key's lock, as for anything that changes its live session, then the row's.
  await tx.lock('key', tenant, key);
  const row = await liveRow(tx, tenant, key, true);
  if (!row) throw noLiveSession(key);
  const { config, labels, metadata } = patched(toSession(tx, row), patch);
  if (patch.labels) await checkQuotas(tx, tenant, labels, patch.labelQuotas, row.id);
  const updated = await returned<SessionRow>(
    tx,
    sql`UPDATE sessions SET ${assign({ config: d.json(config), labels: d.json(labels), metadata: d.json(metadata) })} WHERE id = ${row.id} RETURNING *`,
    'session',
    row.id,
  );
  return toSession(tx, updated);
}

const IMPORTED_TURN_COLUMNS = [
  'id', 'session_id', 'tenant', 'key', 'seq', 'prompt', 'status', 'owner', 'text', 'error_code', 'error_message',
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost_micros', 'created_at', 'started_at', 'ended_at',
] as const;

export async function importSession(tx: Tx, input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }> {
  await tx.lock('key', input.tenant, input.key);
  const live = await liveRow(tx, input.tenant, input.key, true);
  const now = await tx.now();
  const closed: SessionRecord[] = [];
  if (live) {
    assertReplaceable(input, live, now);
    closed.push(await close(tx, live, 'reset', now));
  }
  closed.push(...(await makeRoom(tx, input, now)));
  const row = await createSession(
    tx,
    {
      tenant: input.tenant,
      key: input.key,
      backend: input.backend,
      config: input.config,
      labels: input.labels,
      metadata: input.metadata,
      newSessionId: input.newSessionId,
      ...(input.labelQuotas ? { labelQuotas: input.labelQuotas } : {}),
    },
    now,
  );

  // The ended turns, numbered after the key's earlier generations, in as few statements as can be.
  const turns = input.turns;
  const rows = turns.map((t, i) => {
    const ended = endedTurnColumns({ usage: t.usage, context: null, error: t.error });
    const seq = row.turn_seq + i + 1;
    return [randomUUID(), row.id, input.tenant, input.key, seq, t.prompt, t.status, 'import', t.text, ended.error_code, ended.error_message,
      ended.input_tokens, ended.output_tokens, ended.cache_read_tokens, ended.cache_write_tokens, ended.cost_micros, t.createdAt, t.startedAt, t.endedAt];
  });
  for (const statement of insertRows('turns', IMPORTED_TURN_COLUMNS, rows)) await tx.exec(statement);
  const session = await returned<SessionRow>(
    tx,
    sql`UPDATE sessions SET ${assign({
      agent_session_id: input.agentSessionId,
      turns: turns.length,
      turn_seq: row.turn_seq + turns.length,
      ...usageToColumns(input.usage),
      context_tokens: input.context.tokens,
      context_window: input.context.window,
      context_ratio: input.context.ratio,
      expires_at: expiryFrom(now, input.idleTimeoutMs),
    })} WHERE id = ${row.id} RETURNING *`,
    'session',
    row.id,
  );
  // The conversation last, once nothing above refused the import: one transaction with the rest.
  if (input.agentSessionId !== null) {
    for (const t of input.transcripts ?? []) {
      await appendTranscript(tx, { agentSessionId: input.agentSessionId, ...(t.subpath ? { subpath: t.subpath } : {}) }, IMPORT_PROJECT_KEY, t.entries);
    }
  }
  // Imported history counts in the tenant's turn totals (its usage was spent elsewhere).
  tx.bump(input.tenant, importedDelta(turns));
  return { session: toSession(tx, session), closed };
}
