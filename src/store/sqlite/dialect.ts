import type { Dialect } from '../sql/dialect.js';
import { empty, raw, sql } from '../sql/query.js';

const TRUE = raw('1');
const FALSE = raw('0');

/** SQLite's side of what differs (see Dialect): through better-sqlite3, flags are 0 or 1 and JSON columns text. */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  placeholders: 'question',
  bool: (value) => (value ? TRUE : FALSE),
  liveColumn: (live) => ({ live: live ? TRUE : FALSE }),
  forUpdate: empty,
  skipLocked: empty,
  json: (value) => sql`${JSON.stringify(value)}`,
  // json_each rather than json_extract: label names need no JSON-path quoting this way.
  hasLabel: (name, value) =>
    sql`EXISTS (SELECT 1 FROM json_each(sessions.labels) AS l WHERE l.key = ${name} AND l.value = ${value} AND l.type = 'text')`,
  // json_each's type tells true, false, integer, real and text apart, so a value matches only a
  // stored value of its own JSON type.
  hasMetadata: (name, value) =>
    typeof value === 'boolean'
      ? sql`EXISTS (SELECT 1 FROM json_each(sessions.metadata) AS m WHERE m.key = ${name} AND m.type = ${value ? 'true' : 'false'})`
      : sql`EXISTS (SELECT 1 FROM json_each(sessions.metadata) AS m
          WHERE m.key = ${name} AND m.type = ${typeof value === 'string' ? 'text' : Number.isInteger(value) ? 'integer' : 'real'} AND m.value = ${value})`,
  noLimit: -1,
  rowOrder: raw('rowid'),
  // SQLite's default collation, BINARY, is byte order already.
  byteOrder: empty,
  flag: (value) => value === 1,
  object: <T extends object>(value: unknown, fallback: T): T => {
    try {
      return JSON.parse(value as string) as T;
    } catch {
      // A hand-edited row should not make the whole listing fail.
      return fallback;
    }
  },
};
