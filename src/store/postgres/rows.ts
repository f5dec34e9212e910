import { rowMapping, type Dialect, type SessionRowOf, type TurnRowOf } from '../rows.js';

/**
 * A `sessions` row as pg returns it: flags are booleans, JSONB columns arrive parsed, BIGINT is
 * parsed to a number by the pool's type parsers.
 */
export type SessionRow = SessionRowOf<boolean, unknown>;

/** A `turns` row as pg returns it. */
export type TurnRow = TurnRowOf<boolean>;

export const pgDialect: Dialect<boolean, unknown> = {
  flag: (value) => value === true,
  // A hand-edited row holding a non-object should not make the whole listing fail.
  object: <T extends object>(value: unknown, fallback: T): T =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as T) : fallback,
};

export const { sessionFromRow, turnFromRow } = rowMapping(pgDialect);
