import { readFileSync } from 'node:fs';
import type { Store } from '../../src/store/store.js';

export interface StoreCallStats {
  calls: Record<string, number>;
  /** Time each method spent before returning its promise (the SQLite adapter works synchronously). */
  ms: Record<string, number>;
}

/**
 * The store behind a counter: how often the broker calls each method and how long the calls
 * take. Passed to createTether as its `store` (part of its options), so Tether runs unchanged.
 */
export function countingStore(store: Store): { store: Store; stats: StoreCallStats } {
  const stats: StoreCallStats = { calls: {}, ms: {} };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          stats.calls[prop] = (stats.calls[prop] ?? 0) + 1;
          stats.ms[prop] = (stats.ms[prop] ?? 0) + performance.now() - t0;
        }
      };
    },
  });
  return { store: proxy, stats };
}

/** CPU seconds of this process and of its children that have been waited for (Linux /proc). */
export function cpuSeconds(): { self: number; children: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ
  const n = (i: number): number => Number(fields[i]) / tick;
  return { self: n(11) + n(12), children: n(13) + n(14) };
}
