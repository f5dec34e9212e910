import type { TranscriptEntry, TranscriptRef } from '../store.js';
import { MAX_PARAMS, insertRows, list, sql } from './query.js';
import type { Reader, Tx } from './transaction.js';

/** `TranscriptMirror`: each agent conversation's lines, in order, deduplicated by uuid. */

const uuidOf = (e: TranscriptEntry): string | null => (typeof e.uuid === 'string' ? e.uuid : null);

export async function appendTranscript(tx: Tx, ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void> {
  const { agentSessionId } = ref;
  const subpath = ref.subpath ?? '';
  const d = tx.dialect;
  // The head row is the transcript's lock: concurrent appends number their entries in turn.
  await tx.exec(
    sql`INSERT INTO transcripts (agent_session_id, subpath, project_key, entries, updated_at) VALUES (${agentSessionId}, ${subpath}, ${projectKey}, 0, 0)
      ON CONFLICT (agent_session_id, subpath) DO NOTHING`,
  );
  const head = await tx.row<{ entries: number }>(
    sql`SELECT entries FROM transcripts WHERE agent_session_id = ${agentSessionId} AND subpath = ${subpath}${d.forUpdate}`,
  );
  const now = await tx.now();
  const asked = [...new Set(entries.map(uuidOf).filter((u): u is string => u !== null))];
  const seen = new Set<string>();
  for (let i = 0; i < asked.length; i += MAX_PARAMS - 2) {
    const existing = await tx.rows<{ uuid: string }>(
      sql`SELECT uuid FROM transcript_entries
        WHERE agent_session_id = ${agentSessionId} AND subpath = ${subpath} AND uuid IN ${list(asked.slice(i, i + MAX_PARAMS - 2))}`,
    );
    for (const r of existing) seen.add(r.uuid);
  }
  let seq = head?.entries ?? 0;
  const rows: unknown[][] = [];
  for (const entry of entries) {
    const uuid = uuidOf(entry);
    if (uuid !== null) {
      if (seen.has(uuid)) continue;
      seen.add(uuid);
    }
    rows.push([agentSessionId, subpath, seq++, uuid, JSON.stringify(entry)]);
  }
  for (const statement of insertRows('transcript_entries', ['agent_session_id', 'subpath', 'seq', 'uuid', 'entry'], rows)) await tx.exec(statement);
  await tx.exec(
    sql`UPDATE transcripts SET project_key = ${projectKey}, entries = ${seq}, updated_at = ${now}
      WHERE agent_session_id = ${agentSessionId} AND subpath = ${subpath}`,
  );
}

export async function loadTranscript(r: Reader, ref: TranscriptRef): Promise<TranscriptEntry[] | null> {
  // One statement, so the head and the entries are read from one snapshot.
  const rows = await r.rows<{ entry: string | null }>(
    sql`SELECT e.entry FROM transcripts h
        LEFT JOIN transcript_entries e ON e.agent_session_id = h.agent_session_id AND e.subpath = h.subpath
      WHERE h.agent_session_id = ${ref.agentSessionId} AND h.subpath = ${ref.subpath ?? ''} ORDER BY e.seq`,
  );
  if (rows.length === 0) return null;
  return rows.filter((row) => row.entry !== null).map((row) => JSON.parse(row.entry!) as TranscriptEntry);
}

export async function listTranscripts(r: Reader, projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>> {
  const rows = await r.rows<{ agent_session_id: string; updated_at: number }>(
    sql`SELECT agent_session_id, updated_at FROM transcripts WHERE project_key = ${projectKey} AND subpath = ''`,
  );
  return rows.map((row) => ({ agentSessionId: row.agent_session_id, mtime: row.updated_at }));
}

export async function listTranscriptSubpaths(r: Reader, agentSessionId: string): Promise<string[]> {
  const rows = await r.rows<{ subpath: string }>(
    sql`SELECT subpath FROM transcripts WHERE agent_session_id = ${agentSessionId} AND subpath <> '' ORDER BY subpath${r.dialect.byteOrder}`,
  );
  return rows.map((row) => row.subpath);
}

export async function deleteTranscript(tx: Tx, ref: TranscriptRef): Promise<number> {
  const which = ref.subpath ? sql`agent_session_id = ${ref.agentSessionId} AND subpath = ${ref.subpath}` : sql`agent_session_id = ${ref.agentSessionId}`;
  await tx.exec(sql`DELETE FROM transcripts WHERE ${which}`);
  return tx.exec(sql`DELETE FROM transcript_entries WHERE ${which}`);
}
