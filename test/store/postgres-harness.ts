/**
 * What the PostgreSQL store test files share: the reachability check (skip, or fail when
 * TETHER_REQUIRE_POSTGRES=1), one admin connection, and schemas made for a file and dropped
 * after it. Call `postgresHarness()` at the top level of a test file.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { hideUrlPasswords } from '../../src/lib/url-password.js';
import { POSTGRES_REQUIRED, TEST_DATABASE_URL, postgresUnreachable } from '../helpers/postgres.js';

export interface PostgresHarness {
  readonly url: string;
  /** True when the server is unreachable: the file's tests skip (or one fails, in CI). */
  readonly skip: boolean;
  /** One connection for creating and dropping schemas and for looking at them from outside. */
  adminClient(): Promise<pg.Client>;
  /** A new schema name, dropped after the file if the test does not drop it first. */
  freshSchema(): string;
  dropSchema(name: string): Promise<void>;
  /** Every Tether table of the schema emptied, the migrations kept: far cheaper than a new schema. */
  emptySchema(name: string): Promise<void>;
}

export async function postgresHarness(file: string): Promise<PostgresHarness> {
  const url = TEST_DATABASE_URL;
  const unreachable = await postgresUnreachable();
  const skip = unreachable !== null;
  const where = hideUrlPasswords(url);
  if (skip) {
    console.warn(
      `[${file}] PostgreSQL at ${where} is unreachable (${unreachable}); ` +
        (POSTGRES_REQUIRED ? 'TETHER_REQUIRE_POSTGRES=1, so this fails.' : 'skipping the PostgreSQL store tests (set TETHER_TEST_DATABASE_URL to run them).'),
    );
  }

  describe.runIf(skip && POSTGRES_REQUIRED)('PostgreSQL required', () => {
    it('is reachable (TETHER_REQUIRE_POSTGRES=1)', () => {
      throw new Error(`PostgreSQL at ${where} is unreachable: ${unreachable}`);
    });
  });

  let admin: pg.Client | undefined;
  const adminClient = async (): Promise<pg.Client> => {
    if (!admin) {
      admin = new pg.Client({ connectionString: url });
      await admin.connect();
    }
    return admin;
  };

  const schemas = new Set<string>();
  const dropSchema = async (name: string): Promise<void> => {
    await (await adminClient()).query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    schemas.delete(name);
  };

  afterAll(async () => {
    if (skip) return;
    for (const name of [...schemas]) await dropSchema(name);
    await admin?.end();
  });

  return {
    url,
    skip,
    adminClient,
    freshSchema() {
      const name = `tether_t_${randomBytes(6).toString('hex')}`;
      schemas.add(name);
      return name;
    },
    dropSchema,
    async emptySchema(name) {
      const client = await adminClient();
      const { rows } = await client.query<{ t: string }>(
        `SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'tether_migrations'`,
        [name],
      );
      if (rows.length > 0) await client.query(`TRUNCATE ${rows.map((r) => `"${name}"."${r.t}"`).join(', ')} RESTART IDENTITY CASCADE`);
    },
  };
}
