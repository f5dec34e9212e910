import { validateTenant, LABEL_NAME_RE } from '../domain/keys.js';
import { BUCKETS, usageSeries, type BucketSize, type UsageGrouping, type UsageSeries } from '../domain/usage-series.js';
import { invalidInput } from '../errors.js';
import type { UsageOptions } from './api.js';
import type { BrokerContext } from './context.js';

/** Turns read for one series at most: a window with more counts its latest ones (`truncated`). */
export const MAX_SERIES_TURNS = 50_000;
/** Buckets in one series at most. */
export const MAX_BUCKETS = 1_000;

/** The tenant's usage over time (`Tether.usage`): the ended turns of the window, summed per bucket and group. */
export async function usageOf(ctx: Pick<BrokerContext, 'store' | 'config'>, options: UsageOptions = {}): Promise<UsageSeries> {
  const tenant = validateTenant(options.tenant ?? ctx.config.tenant);
  const bucket: BucketSize = options.bucket ?? 'hour';
  if (!Object.hasOwn(BUCKETS, bucket)) throw invalidInput(`bucket must be one of ${Object.keys(BUCKETS).join(', ')}`);
  const bucketMs = BUCKETS[bucket];
  const by: UsageGrouping = options.by ?? 'none';
  if (!(by === 'none' || by === 'model' || by === 'backend' || (by.startsWith('label:') && LABEL_NAME_RE.test(by.slice(6))))) {
    throw invalidInput('by must be none, model, backend or label:NAME');
  }
  const until = options.until ?? (await ctx.store.now());
  const since = options.since ?? until - 24 * bucketMs;
  if (!(Number.isFinite(since) && Number.isFinite(until) && since < until)) throw invalidInput('since must be before until');
  if ((until - since) / bucketMs > MAX_BUCKETS) throw invalidInput(`that is more than ${MAX_BUCKETS} buckets of a ${bucket}; take a larger bucket or a shorter window`);
  const turns = await ctx.store.endedTurns({ tenant, since, until, limit: MAX_SERIES_TURNS + 1 });
  const truncated = turns.length > MAX_SERIES_TURNS;
  return usageSeries(truncated ? turns.slice(0, MAX_SERIES_TURNS) : turns, { since, until, bucketMs, by, truncated });
}
