import type { BackendName, Labels, TurnStatus, Usage } from './types.js';

/** An ended turn as usage over time counts it. */
export interface EndedTurn {
  key: string;
  status: TurnStatus;
  createdAt: number;
  startedAt: number | null;
  endedAt: number;
  usage: Usage | null;
  backend: BackendName;
  /** The session's model now (null: the agent's default). */
  model: string | null;
  labels: Labels;
}

/** How usage over time is split: not at all, by model, by agent, or by the value of one label. */
export type UsageGrouping = 'none' | 'model' | 'backend' | `label:${string}`;

export const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type BucketSize = keyof typeof BUCKETS;

/** One group's turns that ended within one bucket of time. */
export interface UsageBucket {
  /** Start of the bucket (epoch ms). */
  at: number;
  group: string;
  turns: number;
  /** Of those, the ones that did not succeed (failed or interrupted). */
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  /** From accepted to ended (queueing included), nearest-rank percentiles in ms. */
  latencyMs: { p50: number; p90: number; p99: number };
}

export interface UsageSeries {
  since: number;
  until: number;
  bucketMs: number;
  by: UsageGrouping;
  /** The groups seen, most turns first; buckets are listed by time, then group. */
  groups: string[];
  buckets: UsageBucket[];
  /** The window held more turns than were read (the latest are counted). */
  truncated: boolean;
}

/** The group a turn counts in (`(none)` for a model or label it does not have). */
function groupOf(turn: EndedTurn, by: UsageGrouping): string {
  if (by === 'none') return 'all';
  if (by === 'model') return turn.model ?? '(default)';
  if (by === 'backend') return turn.backend;
  return turn.labels[by.slice('label:'.length)] ?? '(none)';
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** Sums `turns` into buckets of `bucketMs` from `since`, per group. Pure: the store has read them. */
export function usageSeries(turns: readonly EndedTurn[], options: { since: number; until: number; bucketMs: number; by: UsageGrouping; truncated: boolean }): UsageSeries {
  const { since, bucketMs, by } = options;
  const cells = new Map<string, { bucket: UsageBucket; latencies: number[] }>();
  const perGroup = new Map<string, number>();
  for (const turn of turns) {
    const at = since + Math.floor((turn.endedAt - since) / bucketMs) * bucketMs;
    const group = groupOf(turn, by);
    perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    const id = `${at}\u0000${group}`;
    let cell = cells.get(id);
    if (!cell) {
      cell = {
        bucket: { at, group, turns: 0, failed: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0, latencyMs: { p50: 0, p90: 0, p99: 0 } },
        latencies: [],
      };
      cells.set(id, cell);
    }
    const b = cell.bucket;
    b.turns++;
    if (turn.status !== 'succeeded') b.failed++;
    if (turn.usage) {
      b.inputTokens += turn.usage.inputTokens;
      b.outputTokens += turn.usage.outputTokens;
      b.cacheReadTokens += turn.usage.cacheReadTokens;
      b.cacheWriteTokens += turn.usage.cacheWriteTokens;
      b.costUsd += turn.usage.costUsd;
    }
    cell.latencies.push(turn.endedAt - turn.createdAt);
  }
  const buckets = [...cells.values()].map(({ bucket, latencies }) => {
    latencies.sort((a, b) => a - b);
    bucket.latencyMs = { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99) };
    bucket.costUsd = Math.round(bucket.costUsd * 1e6) / 1e6;
    return bucket;
  });
  buckets.sort((a, b) => a.at - b.at || a.group.localeCompare(b.group));
  const groups = [...perGroup.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([g]) => g);
  return { since, until: options.until, bucketMs, by, groups, buckets, truncated: options.truncated };
}
