/**
 * A query builder in one tagged template: `sql\`SELECT * FROM sessions WHERE id = ${id}\`` is a
 * fragment of text parts with the values between them. A value that is itself a fragment is
 * nested as SQL; any other value is bound as a parameter. `render` writes a fragment out for one
 * driver's placeholder style, numbering the parameters itself, so no SQL in Tether counts
 * placeholders by hand and one statement serves SQLite (`?`) and PostgreSQL (`$1`…).
 */
export class Sql {
  /** One more than `values`: the text before, between and after them. */
  readonly parts: readonly string[];
  readonly values: readonly unknown[];

  constructor(parts: readonly string[], values: readonly unknown[]) {
    this.parts = parts;
    this.values = values;
  }
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Trusted SQL text (column lists, keywords), never a value from outside. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

export const empty: Sql = raw('');

/** `?` (better-sqlite3) or `$1`, `$2`… (pg). */
export type PlaceholderStyle = 'question' | 'numbered';

export interface Rendered {
  text: string;
  params: unknown[];
}

/**
 * A statement's text depends only on its shape: which parts arrays nest where, and where values
 * are bound. Template literals keep their parts array for good, so the shape is looked up along
 * them (a trie, per placeholder style) and the text written once. The same text object then comes
 * back every time, which keeps the drivers' statement caches cheap. Weakly held: a shape made of
 * parts arrays that are gone (`raw` of a one-off text) goes with them.
 */
interface Shape {
  readonly next: WeakMap<object, Shape>;
  text?: string;
}

/** Where a value is bound, in a shape. */
const BOUND = {};
const shapes: Record<PlaceholderStyle, Shape> = { question: { next: new WeakMap() }, numbered: { next: new WeakMap() } };

function step(shape: Shape, key: object): Shape {
  let next = shape.next.get(key);
  if (!next) shape.next.set(key, (next = { next: new WeakMap() }));
  return next;
}

export function render(query: Sql, style: PlaceholderStyle): Rendered {
  const params: unknown[] = [];
  const shape = walk(query, shapes[style], params);
  shape.text ??= write(query, style, []);
  return { text: shape.text, params };
}

/** Collects the bound values in order, and finds the query's shape. */
function walk(query: Sql, shape: Shape, params: unknown[]): Shape {
  shape = step(shape, query.parts);
  for (const value of query.values) {
    if (value instanceof Sql) {
      shape = walk(value, shape, params);
    } else {
      // Neither driver binds undefined the same way (pg: NULL, better-sqlite3: an error): say null.
      if (value === undefined) throw new TypeError(`undefined bound at parameter ${params.length + 1} of: ${query.parts.join('?')}`);
      params.push(value);
      shape = step(shape, BOUND);
    }
  }
  return shape;
}

function write(query: Sql, style: PlaceholderStyle, params: unknown[]): string {
  let text = query.parts[0]!;
  for (let i = 0; i < query.values.length; i++) {
    const value = query.values[i];
    if (value instanceof Sql) {
      text += write(value, style, params);
    } else {
      params.push(value);
      text += style === 'numbered' ? `$${params.length}` : '?';
    }
    text += query.parts[i + 1]!;
  }
  return text;
}

/** The parts arrays of joins, one per separator and length, so that a join keeps its shape. */
const joins = new Map<string, string[][]>();

/** The items separated by `separator`: fragments nest, other values are bound. None: empty. */
export function join(items: readonly unknown[], separator = ', '): Sql {
  if (items.length === 0) return empty;
  let bySize = joins.get(separator);
  if (!bySize) joins.set(separator, (bySize = []));
  const parts = (bySize[items.length] ??= ['', ...Array<string>(items.length - 1).fill(separator), '']);
  return new Sql(parts, items);
}

const NOTHING_IN = raw('(NULL)');

/** A parenthesised list for `IN`; an empty one is `(NULL)`, which nothing is IN. */
export function list(values: readonly unknown[]): Sql {
  return values.length === 0 ? NOTHING_IN : sql`(${join(values)})`;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const identifiers = new Map<string, Sql>();

/** A column or table name written by Tether's own code. */
export function ident(name: string): Sql {
  let known = identifiers.get(name);
  if (!known) {
    if (!IDENTIFIER.test(name)) throw new TypeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
    identifiers.set(name, (known = raw(name)));
  }
  return known;
}

/** `column = value, …` for UPDATE … SET. */
export function assign(record: Readonly<Record<string, unknown>>): Sql {
  return join(Object.entries(record).map(([column, value]) => sql`${ident(column)} = ${value}`));
}

/** `INSERT INTO table (columns) VALUES (values)` of one row given by column. */
export function insertInto(table: string, record: Readonly<Record<string, unknown>>): Sql {
  return sql`INSERT INTO ${ident(table)} (${join(Object.keys(record).map(ident))}) VALUES (${join(Object.values(record))})`;
}

/**
 * At most this many parameters per statement: SQLite's historical limit (its builds allow
 * 32766 today, PostgreSQL 65535), so a bulk insert never meets either, whatever the build.
 */
export const MAX_PARAMS = 999;

/**
 * Multi-row `INSERT INTO table (columns) VALUES (…), (…)`, as few statements as the parameter
 * limit allows, rows in order. No rows: no statements.
 */
export function insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], maxParams = MAX_PARAMS): Sql[] {
  const perStatement = Math.max(1, Math.floor(maxParams / Math.max(1, columns.length)));
  const head = sql`INSERT INTO ${ident(table)} (${join(columns.map(ident))}) VALUES `;
  const statements: Sql[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement).map((row) => {
      if (row.length !== columns.length) throw new TypeError(`a row of ${row.length} values for ${columns.length} columns of ${table}`);
      return sql`(${join(row)})`;
    });
    statements.push(sql`${head}${join(chunk)}`);
  }
  return statements;
}
