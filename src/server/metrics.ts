import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Tether } from '../broker/api.js';
import { SESSION_STATUSES } from '../domain/types.js';
import { ErrorCode } from '../errors.js';

/**
 * Prometheus metrics of one server, in a Registry of its own (never prom-client's global one:
 * two servers in one process, or a test suite, must not share or double-register series).
 * Gauges are read from `tether.stats()` at scrape time; counters follow the turn events.
 */
export interface ServerMetrics {
  readonly registry: Registry;
  /** The text exposition, with the gauges refreshed from the store first. */
  scrape(): Promise<string>;
  /** Stops listening to the broker's events. */
  dispose(): void;
}

const DURATION_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

export function createMetrics(tether: Tether): ServerMetrics {
  const registry = new Registry();
  const sessions = new Gauge({ name: 'tether_sessions', help: 'Sessions by status (all tenants).', labelNames: ['status'], registers: [registry] });
  const queueDepth = new Gauge({ name: 'tether_queue_depth', help: 'Turns waiting behind a running turn (all tenants).', registers: [registry] });
  const running = new Gauge({ name: 'tether_turns_running', help: 'Turns running now (all nodes sharing the store).', registers: [registry] });
  const liveRunners = new Gauge({ name: 'tether_live_runners', help: 'Agent processes alive in this process.', registers: [registry] });
  const turns = new Counter({ name: 'tether_turns_total', help: 'Turns ended in this process, by outcome.', labelNames: ['outcome'], registers: [registry] });
  const duration = new Histogram({ name: 'tether_turn_duration_seconds', help: 'Duration of succeeded turns.', buckets: DURATION_BUCKETS, registers: [registry] });
  const tokens = new Counter({ name: 'tether_tokens_total', help: 'Tokens of succeeded turns, by kind.', labelNames: ['kind'], registers: [registry] });
  const cost = new Counter({ name: 'tether_cost_usd_total', help: 'Cost of succeeded turns in USD, as the agent reported it.', registers: [registry] });

  // Present from the first scrape, so rate() and alerts see a 0 rather than a missing series.
  for (const outcome of ['succeeded', 'failed', 'interrupted']) turns.inc({ outcome }, 0);
  for (const kind of ['input', 'output', 'cache_read', 'cache_write']) tokens.inc({ kind }, 0);

  const offCompleted = tether.on('turn.completed', (event) => {
    if (event.type !== 'turn.completed') return;
    turns.inc({ outcome: 'succeeded' });
    duration.observe(event.durationMs / 1000);
    tokens.inc({ kind: 'input' }, event.usage.inputTokens);
    tokens.inc({ kind: 'output' }, event.usage.outputTokens);
    tokens.inc({ kind: 'cache_read' }, event.usage.cacheReadTokens);
    tokens.inc({ kind: 'cache_write' }, event.usage.cacheWriteTokens);
    if (event.usage.costUsd > 0) cost.inc(event.usage.costUsd);
  });
  const offFailed = tether.on('turn.failed', (event) => {
    if (event.type !== 'turn.failed') return;
    turns.inc({ outcome: event.error.code === ErrorCode.INTERRUPTED ? 'interrupted' : 'failed' });
  });

  return {
    registry,
    async scrape() {
      const stats = await tether.stats();
      for (const status of SESSION_STATUSES) sessions.set({ status }, stats.sessions.byStatus[status] ?? 0);
      queueDepth.set(stats.turns.queued ?? 0);
      running.set(stats.turns.running ?? 0);
      // Agent processes alive here once the runner pool reports them; turns in flight before that.
      liveRunners.set(stats.runners?.live ?? stats.runningHere);
      return registry.metrics();
    },
    dispose() {
      offCompleted();
      offFailed();
    },
  };
}
