import { describe, expect, it } from 'vitest';
import { usageSeries, type EndedTurn } from '../../src/domain/usage-series.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function turn(over: Partial<EndedTurn>): EndedTurn {
  return {
    key: 'k',
    status: 'succeeded',
    createdAt: T0,
    startedAt: T0,
    endedAt: T0 + 1_000,
    usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 1, cacheWriteTokens: 2, costUsd: 0.1 },
    backend: 'claude',
    model: 'sonnet',
    labels: {},
    ...over,
  };
}

describe('usageSeries: ended turns summed per bucket and group', () => {
  it('sums tokens, cost and failures per bucket, with nearest-rank latency percentiles', () => {
    const turns = [
      ...Array.from({ length: 10 }, (_, i) => turn({ createdAt: T0, endedAt: T0 + (i + 1) * 100 })),
      turn({ status: 'failed', createdAt: T0 + HOUR, endedAt: T0 + HOUR + 5_000, usage: null }),
    ];
    const series = usageSeries(turns, { since: T0, until: T0 + 2 * HOUR, bucketMs: HOUR, by: 'none', truncated: false });
    expect(series.groups).toEqual(['all']);
    expect(series.buckets).toEqual([
      { at: T0, group: 'all', turns: 10, failed: 0, inputTokens: 100, outputTokens: 50, cacheReadTokens: 10, cacheWriteTokens: 20, costUsd: 1, latencyMs: { p50: 500, p90: 900, p99: 1_000 } },
      { at: T0 + HOUR, group: 'all', turns: 1, failed: 1, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0, latencyMs: { p50: 5_000, p90: 5_000, p99: 5_000 } },
    ]);
  });

  it('groups by model, agent or a label value, the busiest group first', () => {
    const turns = [turn({ model: null, labels: { user: 'ada' } }), turn({ labels: { user: 'bob' } }), turn({ backend: 'codex', labels: { user: 'bob' } })];
    const of = (by: Parameters<typeof usageSeries>[1]['by']) => usageSeries(turns, { since: T0, until: T0 + HOUR, bucketMs: HOUR, by, truncated: false });
    expect(of('model').groups).toEqual(['sonnet', '(default)']);
    expect(of('backend').groups).toEqual(['claude', 'codex']);
    expect(of('label:user').groups).toEqual(['bob', 'ada']);
    expect(of('label:team').groups).toEqual(['(none)']);
    expect(of('label:user').buckets.map((b) => [b.group, b.turns])).toEqual([
      ['ada', 1],
      ['bob', 2],
    ]);
  });
});
