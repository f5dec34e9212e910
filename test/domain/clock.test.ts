import { describe, expect, it } from 'vitest';
import { ManualClock, every, settle, sleep } from '../../src/domain/clock.js';

describe('ManualClock', () => {
  it('advance jumps: every timer due fires, in time order, all seeing the new time', () => {
    const clock = new ManualClock(1_000);
    const seen: Array<[string, number]> = [];
    clock.timeout(300, () => seen.push(['c', clock.now()]));
    clock.timeout(100, () => seen.push(['a', clock.now()]));
    clock.timeout(100, () => seen.push(['b', clock.now()]));
    clock.advance(99);
    expect(seen).toEqual([]);
    clock.advance(150);
    expect(seen).toEqual([['a', 1_249], ['b', 1_249]]);
    clock.set(2_000);
    expect(seen.at(-1)).toEqual(['c', 2_000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('advanceAsync steps: each timer sees its own time', async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.timeout(300, () => seen.push(clock.now()));
    clock.timeout(100, () => seen.push(clock.now()));
    await clock.advanceAsync(1_000);
    expect(seen).toEqual([100, 300]);
    expect(clock.now()).toBe(1_000);
  });

  it('fires a timer set by a firing timer within the same step, and not a cancelled one', async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const cancelled = clock.timeout(50, () => seen.push(-1));
    clock.timeout(10, () => clock.timeout(10, () => seen.push(clock.now())));
    cancelled.cancel();
    await clock.advanceAsync(100);
    expect(seen).toEqual([20]);
  });

  it('moves back without firing anything', () => {
    const clock = new ManualClock(5_000);
    let fired = false;
    clock.timeout(10, () => (fired = true));
    clock.set(1_000);
    expect([clock.now(), fired]).toEqual([1_000, false]);
  });

  it('advanceAsync lets the promise work a timer starts run before the next timer fires', async () => {
    const clock = new ManualClock(0);
    const order: string[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 100);
        await Promise.resolve();
        order.push(`tick ${i} at ${clock.now()}`);
      }
    })();
    await clock.advanceAsync(1_000);
    await loop;
    expect(order).toEqual(['tick 0 at 100', 'tick 1 at 200', 'tick 2 at 300']);
  });

  it('every() runs once per period as time steps, once after a jump, and stops when cancelled', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const timer = every(clock, 250, () => at.push(clock.now()));
    await clock.advanceAsync(1_000);
    expect(at).toEqual([250, 500, 750, 1_000]);
    clock.advance(3_600_000);
    expect(at.at(-1)).toBe(3_601_000);
    expect(at).toHaveLength(5);
    timer.cancel();
    clock.advance(1_000);
    expect(at).toHaveLength(5);
  });

  it('sleep() ends early when its signal aborts, and leaves no timer behind', async () => {
    const clock = new ManualClock(0);
    const abort = new AbortController();
    let done = false;
    const sleeping = sleep(clock, 60_000, abort.signal).then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    abort.abort();
    await sleeping;
    expect(clock.pendingTimers).toBe(0);
  });
});
