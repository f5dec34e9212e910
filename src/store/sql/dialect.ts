import type { RowReader } from '../rows.js';
import type { PlaceholderStyle, Sql } from './query.js';

/**
 * What truly differs between the SQL of the two databases, and nothing else: every store
 * operation is written once (src/store/sql/) and asks its adapter's dialect for these pieces.
 * Each adapter has one dialect object (src/store/sqlite/dialect.ts, src/store/postgres/dialect.ts).
 */
export interface Dialect extends RowReader {
  readonly name: 'sqlite' | 'postgres';
  readonly placeholders: PlaceholderStyle;

  /**
   * A boolean literal (SQLite `1`/`0`, PostgreSQL `true`/`false`): better-sqlite3 binds no
   * booleans, and a literal is what lets `live = 1` meet a partial index's `WHERE live = 1`.
   */
  bool(value: boolean): Sql;

  /**
   * The `live` column as the adapter writes it: SQLite stores it (a CHECK keeps it in step with
   * `status`); PostgreSQL's is GENERATED from `status`, so it is never written.
   */
  liveColumn(live: boolean): Record<string, Sql>;

  /** ` FOR UPDATE` on PostgreSQL; nothing on SQLite, where BEGIN IMMEDIATE already serializes writers. */
  readonly forUpdate: Sql;
  /** ` FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite, where no other writer holds a row. */
  readonly skipLocked: Sql;

  /** A JSON value bound for a JSON column (PostgreSQL JSONB, SQLite text). */
  json(value: unknown): Sql;

  /** True when the session row's `labels` hold `name` as exactly the string `value`. */
  hasLabel(name: string, value: string): Sql;

  /**
   * True when the session row's top-level `metadata` value `name` equals `value` as a JSON value
   * of that type: `{n: 3}` never matches 3.5 or "3", `false` never matches a missing name. The
   * caller has left out NaN and the infinities, which match nothing.
   */
  hasMetadata(name: string, value: string | number | boolean): Sql;

  /** What `LIMIT` takes for "no limit" (SQLite -1, PostgreSQL NULL). */
  readonly noLimit: number | null;

  /** A stable tie-break of session rows in insertion order (SQLite `rowid`, PostgreSQL `row_no`). */
  readonly rowOrder: Sql;

  /** Appended to an ORDER BY term: byte order, whatever the database's locale. */
  readonly byteOrder: Sql;
}
