import type { BackendName } from '../../domain/types.js';
import { FORGET_NODES_AFTER_MS } from '../rules/index.js';
import { sql } from './query.js';
import type { Reader, Tx } from './transaction.js';

/** `NodeRegistry` heartbeats and `UsageLimits`: what the nodes sharing a store tell each other. */

export async function heartbeat(tx: Tx, owner: string, ttlMs: number): Promise<void> {
  const now = await tx.now();
  if (ttlMs <= 0) await tx.exec(sql`DELETE FROM nodes WHERE owner = ${owner}`);
  else {
    await tx.exec(
      sql`INSERT INTO nodes (owner, expires_at) VALUES (${owner}, ${now + ttlMs}) ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`,
    );
  }
  await tx.exec(sql`DELETE FROM nodes WHERE expires_at < ${now - FORGET_NODES_AFTER_MS}`);
}

export async function liveOwners(r: Reader): Promise<string[]> {
  const now = await r.now();
  const rows = await r.rows<{ owner: string }>(sql`SELECT owner FROM nodes WHERE expires_at > ${now} ORDER BY owner${r.dialect.byteOrder}`);
  return rows.map((row) => row.owner);
}

export async function setUsageLimit(tx: Tx, backend: BackendName, until: number, reason: string): Promise<void> {
  await tx.exec(
    sql`INSERT INTO usage_limits (backend, until, reason) VALUES (${backend}, ${Math.round(until)}, ${reason})
      ON CONFLICT (backend) DO UPDATE SET until = excluded.until, reason = excluded.reason WHERE excluded.until > usage_limits.until`,
  );
}

export async function getUsageLimit(r: Reader, backend: BackendName): Promise<{ until: number; reason: string } | null> {
  return (await r.row<{ until: number; reason: string }>(sql`SELECT until, reason FROM usage_limits WHERE backend = ${backend}`)) ?? null;
}
