import type { Dialect } from '../sql/dialect.js';
import { raw, sql } from '../sql/query.js';

const TRUE = raw('true');
const FALSE = raw('false');

/**
 * PostgreSQL's side of what differs (see Dialect): through pg, flags are booleans and JSONB
 * columns arrive parsed (BIGINT is parsed to a number by the pool's type parsers).
 */
export const pgDialect: Dialect = {
  name: 'postgres',
  placeholders: 'numbered',
  bool: (value) => (value ? TRUE : FALSE),
  // `live` is GENERATED from `status`.
  liveColumn: () => ({}),
  forUpdate: raw(' FOR UPDATE'),
  skipLocked: raw(' FOR UPDATE SKIP LOCKED'),
  json: (value) => sql`${JSON.stringify(value)}::jsonb`,
  // Containment of a string value is equality.
  hasLabel: (name, value) => sql`labels @> ${JSON.stringify({ [name]: value })}::jsonb`,
  // Containment of a scalar is equality of JSON values of one type, so {n: 3} never matches 3.5
  // (or "3"), and {ok: false} never matches a missing name.
  hasMetadata: (name, value) => sql`metadata @> ${JSON.stringify({ [name]: value })}::jsonb`,
  noLimit: null,
  rowOrder: raw('row_no'),
  // Byte order, as SQLite sorts, whatever the database's locale.
  byteOrder: raw(' COLLATE "C"'),
  flag: (value) => value === true,
  // A hand-edited row holding a non-object should not make the whole listing fail.
  object: <T extends object>(value: unknown, fallback: T): T =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as T) : fallback,
};
