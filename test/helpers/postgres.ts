import pg from 'pg';

/** The machine's PostgreSQL for tests; TETHER_TEST_DATABASE_URL overrides. */
export const TEST_DATABASE_URL = process.env.TETHER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** CI sets this: there, an unreachable PostgreSQL fails the tests instead of skipping them. */
export const POSTGRES_REQUIRED = process.env.TETHER_REQUIRE_POSTGRES === '1';

/** Null when the server answers; otherwise why not. */
export async function postgresUnreachable(url = TEST_DATABASE_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one statement on its own connection (creating and dropping test schemas). */
export async function adminQuery(sql: string, url = TEST_DATABASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
