import { describe, expect, it } from 'vitest';
import { watchParent, type ProcessTable } from '../../src/cli/parent-watch.js';
import { ManualClock } from '../../src/domain/clock.js';

/** A process table the test rearranges: pid -> [ppid, args]. */
function table(processes: Record<number, [number, string[]]>, self = 100): ProcessTable & { procs: Record<number, [number, string[]]> } {
  return {
    self,
    procs: processes,
    ppidOf(pid) {
      return this.procs[pid]?.[0] ?? null;
    },
    argsOf(pid) {
      return this.procs[pid]?.[1] ?? null;
    },
  };
}

function watch(t: ProcessTable): { clock: ManualClock; gone: () => number } {
  const clock = new ManualClock(0);
  let calls = 0;
  watchParent(() => calls++, { clock, everyMs: 1_000, table: t });
  return { clock, gone: () => calls };
}

describe('watchParent', () => {
  it('fires once when our parent changes (we were adopted by init)', () => {
    const t = table({ 100: [50, ['node', 'tether', 'serve']], 50: [1, ['npm', 'start']] });
    const { clock, gone } = watch(t);
    clock.advance(5_000);
    expect(gone()).toBe(0);
    t.procs[100] = [1, ['node', 'tether', 'serve']];
    clock.advance(1_000);
    clock.advance(5_000);
    expect(gone()).toBe(1);
  });

  it("looks through the `sh -c` a package manager runs scripts with: that shell's parent dying counts", () => {
    const t = table({ 100: [60, ['node', 'bin/tether.js', 'serve']], 60: [50, ['sh', '-c', 'node bin/tether.js serve']], 50: [10, ['npm start']] });
    const { clock, gone } = watch(t);
    clock.advance(3_000);
    expect(gone()).toBe(0);
    // npm killed hard: the shell is adopted and keeps waiting on us; our own parent is unchanged.
    t.procs[60] = [1, ['sh', '-c', 'node bin/tether.js serve']];
    delete t.procs[50];
    clock.advance(1_000);
    expect(gone()).toBe(1);
  });

  it('does not follow a parent that is not a script shell: its own parent may come and go (nohup npm start)', () => {
    const t = table({ 100: [50, ['node', 'tether', 'serve']], 50: [10, ['npm', 'start']], 10: [1, ['-bash']] });
    const { clock, gone } = watch(t);
    t.procs[50] = [1, ['npm', 'start']];
    delete t.procs[10];
    clock.advance(10_000);
    expect(gone()).toBe(0);
  });
});
