import { describe, expect, it } from 'vitest';
import { Mutex } from '../../src/store/sqlite/mutex.js';

describe('the SQLite file mutex', () => {
  it('runs sections one at a time, in order, an urgent one ahead of those already waiting', async () => {
    const mutex = new Mutex();
    const order: string[] = [];
    const section = (name: string) => async () => void order.push(name);
    const all = [mutex.run(section('first')), mutex.run(section('a')), mutex.run(section('b')), mutex.run(section('renewal'), { urgent: true }), mutex.run(section('c'))];
    await Promise.all(all);
    expect(order).toEqual(['first', 'renewal', 'a', 'b', 'c']);
  });

  it('starts a free mutex’s section synchronously', () => {
    const mutex = new Mutex();
    let ran = false;
    void mutex.run(async () => void (ran = true));
    expect(ran).toBe(true);
  });

  it('lets the event loop run between two queued sections, so a backlog of synchronous work never blocks it whole', async () => {
    const mutex = new Mutex();
    const order: string[] = [];
    // Each section blocks as a synchronous SQLite commit would; a callback of the event loop
    // (a timer, a socket read) asked for during the first must run before the backlog is done.
    const busy = (name: string) => async () => {
      const until = performance.now() + 5;
      while (performance.now() < until);
      order.push(name);
    };
    const first = mutex.run(async () => {
      setImmediate(() => order.push('event loop'));
      await busy('s0')();
    });
    const rest = Array.from({ length: 5 }, (_, i) => mutex.run(busy(`s${i + 1}`)));
    await Promise.all([first, ...rest]);
    expect(order.indexOf('event loop')).toBeGreaterThan(0);
    expect(order.indexOf('event loop')).toBeLessThan(order.length - 1);
    expect(mutex.waiting).toBe(0);
  });

  it('hands over after a section that throws', async () => {
    const mutex = new Mutex();
    const failed = mutex.run(async () => {
      throw new Error('boom');
    });
    const next = mutex.run(async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });
});
