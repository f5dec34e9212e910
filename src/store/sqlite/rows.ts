import { rowMapping, type SessionRowOf, type TurnRowOf } from '../rows.js';

/** A `sessions` row as better-sqlite3 returns it: flags are 0 or 1, JSON columns are text. */
export type SessionRow = SessionRowOf<number, string>;

/** A `turns` row as better-sqlite3 returns it. */
export type TurnRow = TurnRowOf<number>;

export const { sessionFromRow, turnFromRow } = rowMapping<number, string>({
  flag: (value) => value === 1,
  object: <T extends object>(text: string, fallback: T): T => {
    try {
      return JSON.parse(text) as T;
    } catch {
      // A hand-edited row should not make the whole listing fail.
      return fallback;
    }
  },
});
