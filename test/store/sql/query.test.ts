import { describe, expect, it } from 'vitest';
import { MAX_PARAMS, assign, empty, ident, insertInto, insertRows, join, list, raw, render, sql } from '../../../src/store/sql/query.js';

describe('the query builder', () => {
  it('binds values as placeholders of either style, numbering them itself', () => {
    const q = sql`SELECT * FROM sessions WHERE tenant = ${'t'} AND key = ${'k'} AND seq > ${3}`;
    expect(render(q, 'question')).toEqual({ text: 'SELECT * FROM sessions WHERE tenant = ? AND key = ? AND seq > ?', params: ['t', 'k', 3] });
    expect(render(q, 'numbered')).toEqual({ text: 'SELECT * FROM sessions WHERE tenant = $1 AND key = $2 AND seq > $3', params: ['t', 'k', 3] });
  });

  it('nests fragments, numbering across them in order', () => {
    const byTenant = sql`tenant = ${'t'}`;
    const q = sql`SELECT ${raw('id')} FROM sessions WHERE ${byTenant} AND (${sql`key = ${'k'} OR key = ${sql`${'j'}`}`}) LIMIT ${10}`;
    expect(render(q, 'numbered')).toEqual({ text: 'SELECT id FROM sessions WHERE tenant = $1 AND (key = $2 OR key = $3) LIMIT $4', params: ['t', 'k', 'j', 10] });
    expect(render(q, 'question').text).toBe('SELECT id FROM sessions WHERE tenant = ? AND (key = ? OR key = ?) LIMIT ?');
  });

  it('keeps values out of the text, whatever they hold, and binds null, numbers and booleans as they are', () => {
    const hostile = "x'; DROP TABLE sessions; --";
    const q = sql`UPDATE t SET a = ${hostile}, b = ${null}, c = ${0}, d = ${false}, e = ${'$1'}, f = ${'?'}`;
    expect(render(q, 'numbered')).toEqual({ text: 'UPDATE t SET a = $1, b = $2, c = $3, d = $4, e = $5, f = $6', params: [hostile, null, 0, false, '$1', '?'] });
  });

  it('refuses undefined, which the two drivers bind differently', () => {
    expect(() => render(sql`SELECT ${undefined}`, 'question')).toThrow(TypeError);
  });

  it('writes raw text as given, and the empty fragment as nothing', () => {
    expect(render(sql`SELECT 1${empty} FROM x${raw(' FOR UPDATE')}`, 'numbered')).toEqual({ text: 'SELECT 1 FROM x FOR UPDATE', params: [] });
  });

  it('joins items, fragments nested and values bound; an empty join is empty', () => {
    expect(render(sql`(${join([1, sql`now()`, 'x'])})`, 'numbered')).toEqual({ text: '($1, now(), $2)', params: [1, 'x'] });
    expect(render(sql`WHERE ${join([sql`a = ${1}`, sql`b = ${2}`], ' AND ')}`, 'question')).toEqual({ text: 'WHERE a = ? AND b = ?', params: [1, 2] });
    expect(render(sql`SELECT 1${join([])}`, 'question')).toEqual({ text: 'SELECT 1', params: [] });
  });

  it('lists values for IN, and an empty list as (NULL), which nothing is IN', () => {
    expect(render(sql`x IN ${list(['a', 'b'])}`, 'numbered')).toEqual({ text: 'x IN ($1, $2)', params: ['a', 'b'] });
    expect(render(sql`x IN ${list([])}`, 'numbered')).toEqual({ text: 'x IN (NULL)', params: [] });
  });

  it('assigns and inserts by column name, refusing anything but a plain identifier', () => {
    expect(render(sql`UPDATE t SET ${assign({ a: 1, b: sql`coalesce(${2}, b)` })}`, 'numbered')).toEqual({ text: 'UPDATE t SET a = $1, b = coalesce($2, b)', params: [1, 2] });
    expect(render(insertInto('t', { a: 1, b: null }), 'question')).toEqual({ text: 'INSERT INTO t (a, b) VALUES (?, ?)', params: [1, null] });
    expect(() => assign({ 'a = 1; --': 1 })).toThrow(TypeError);
    expect(() => ident('Sessions')).toThrow(TypeError);
  });

  it('inserts many rows in as few statements as the parameter limit allows, rows in order', () => {
    const rows = Array.from({ length: 7 }, (_, i) => [i, `r${i}`]);
    const statements = insertRows('t', ['n', 's'], rows, 6).map((q) => render(q, 'numbered'));
    expect(statements).toEqual([
      { text: 'INSERT INTO t (n, s) VALUES ($1, $2), ($3, $4), ($5, $6)', params: [0, 'r0', 1, 'r1', 2, 'r2'] },
      { text: 'INSERT INTO t (n, s) VALUES ($1, $2), ($3, $4), ($5, $6)', params: [3, 'r3', 4, 'r4', 5, 'r5'] },
      { text: 'INSERT INTO t (n, s) VALUES ($1, $2)', params: [6, 'r6'] },
    ]);
    expect(insertRows('t', ['n'], [])).toEqual([]);
    expect(() => insertRows('t', ['n', 's'], [[1]])).toThrow(TypeError);
    for (const q of insertRows('t', ['a', 'b', 'c'], Array.from({ length: 5_000 }, () => [1, 2, 3]))) {
      expect(render(q, 'question').params.length).toBeLessThanOrEqual(MAX_PARAMS);
    }
  });

  it('writes the same text for the same shape, whatever the values, and another text for another shape', () => {
    const q = (id: unknown, lock: boolean) => sql`SELECT * FROM s WHERE id = ${id}${lock ? raw(' FOR UPDATE') : empty}`;
    const a = render(q('a', false), 'question');
    const b = render(q('b', false), 'question');
    expect(b).toEqual({ text: a.text, params: ['b'] });
    expect(render(q('c', true), 'question').text).toBe('SELECT * FROM s WHERE id = ? FOR UPDATE');
    // A fragment where a value was bound is another shape.
    expect(render(q(sql`x`, false), 'question')).toEqual({ text: 'SELECT * FROM s WHERE id = x', params: [] });
    expect(render(q('d', false), 'numbered').text).toBe('SELECT * FROM s WHERE id = $1');
  });
});
