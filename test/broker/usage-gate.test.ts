import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../src/domain/clock.js';
import { UsageGate } from '../../src/broker/usage-gate.js';

describe('UsageGate', () => {
  it('is open until closed, only extends, and opens when the clock passes the reset', async () => {
    const clock = new ManualClock(1_000_000);
    const gate = new UsageGate(clock);
    expect(gate.until).toBeNull();
    expect(gate.close(999_000, 'past')).toBe(false);
    expect(gate.close(1_060_000, 'a')).toBe(true);
    expect(gate.close(1_030_000, 'earlier')).toBe(false);
    expect(gate.close(1_090_000, 'b')).toBe(true);
    expect([gate.until, gate.reason]).toEqual([1_090_000, 'b']);

    let passed = false;
    const passing = gate.pass(new AbortController().signal).then(() => (passed = true));
    await clock.advanceAsync(89_999);
    expect(passed).toBe(false);
    await clock.advanceAsync(1);
    await passing;
    expect(gate.until).toBeNull();
  });

  it('keeps a waiter waiting when the limit is extended while it sleeps', async () => {
    const clock = new ManualClock(0);
    const gate = new UsageGate(clock);
    gate.close(60_000, 'first');
    let passed = false;
    const passing = gate.pass(new AbortController().signal).then(() => (passed = true));
    await clock.advanceAsync(30_000);
    gate.close(120_000, 'extended');
    await clock.advanceAsync(30_000);
    await settle();
    expect(passed).toBe(false);
    await clock.advanceAsync(60_000);
    await passing;
    expect(passed).toBe(true);
  });

  it('lets a waiter go when its signal aborts', async () => {
    const clock = new ManualClock();
    const gate = new UsageGate(clock);
    gate.close(clock.now() + 60_000, 'x');
    const abort = new AbortController();
    const passing = gate.pass(abort.signal);
    abort.abort();
    await passing;
    expect(gate.until).not.toBeNull();
    expect(clock.pendingTimers).toBe(0);
  });
});
