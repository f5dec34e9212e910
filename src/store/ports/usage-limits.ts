import type { BackendName } from '../../domain/types.js';

/** The agent account's usage limit, learned by one node from a refused turn, seen by all. */
export interface UsageLimits {
  /**
   * Records that the agent account behind `backend` is out of quota until `until` (epoch ms),
   * for every node on the store. A later time extends it; an earlier one changes nothing.
   */
  setUsageLimit(backend: BackendName, until: number, reason: string): Promise<void>;

  /** The usage limit recorded for `backend`, or null. It may have passed: callers compare. */
  getUsageLimit(backend: BackendName): Promise<{ until: number; reason: string } | null>;
}
