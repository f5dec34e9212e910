import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/lib/async-queue.js';

describe('AsyncQueue', () => {
  it('buffers for a late reader and ends', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    q.end();
    q.push(3);
    const seen: number[] = [];
    for await (const n of q) seen.push(n);
    expect(seen).toEqual([1, 2]);
  });

  it('wakes a waiting reader and delivers an error after the buffered items', async () => {
    const q = new AsyncQueue<string>();
    const it = q[Symbol.asyncIterator]();
    const pending = it.next();
    q.push('a');
    expect(await pending).toEqual({ value: 'a', done: false });
    q.push('b');
    q.end(new Error('boom'));
    expect(await it.next()).toEqual({ value: 'b', done: false });
    await expect(it.next()).rejects.toThrow('boom');
  });
});
