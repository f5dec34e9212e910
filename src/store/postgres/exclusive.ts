import type { PgDatabase } from './database.js';
import { mapPgError } from './errors.js';

/**
 * `NodeRegistry.runExclusive` on PostgreSQL: a session-level advisory lock, tried without
 * waiting, held on one pooled connection while `fn` runs (so the pool needs a second connection
 * for `fn`'s own calls). If that connection dies the server frees the lock, and another node may
 * start the section: the sections are made of store transactions, so overlapping costs work, not
 * correctness. `running` holds the names this node runs now.
 */
export async function runExclusive<T>(db: PgDatabase, running: Set<string>, name: string, fn: () => Promise<T>): Promise<T | null> {
  await db.open();
  if (running.has(name)) return null;
  running.add(name);
  try {
    const checkout = await db.connect();
    const { client } = checkout;
    const key = JSON.stringify([db.lockScope, 'exclusive', name]);
    let broken: Error | undefined;
    try {
      let got: boolean | undefined;
      try {
        got = (await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`, [key])).rows[0]?.ok;
      } catch (err) {
        broken = err as Error;
        throw mapPgError(err, db.target);
      }
      if (!got) return null;
      try {
        return await fn();
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch((err: unknown) => {
          // The lock is only safe to forget with the connection: drop it rather than reuse it.
          broken = err as Error;
        });
      }
    } finally {
      checkout.release(broken);
    }
  } finally {
    running.delete(name);
  }
}
