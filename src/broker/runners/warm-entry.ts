import type { Runner, RunnerSettings } from '../../agents/agent.js';
import type { SessionConfig } from '../../domain/types.js';

/** A session's agent process as the runner pool keeps it, and the pool's rules over them. */
export interface Warm {
  sessionId: string;
  runner: Runner;
  /** Lease epoch of the last turn this runner ran; -1 before its first. */
  epoch: number;
  agentSessionId: string | null;
  busy: boolean;
  lastUsed: number;
  /** Until then (clock time), eviction passes this idle runner by: its session's next turn is about to take it. */
  pinnedUntil: number;
  /** Set while a wake starts the process (the entry is busy meanwhile); resolves with its failure, or null. */
  warming: Promise<unknown> | null;
}

/**
 * How long a released runner is kept for its session's waiting turn. That turn takes the lease
 * and the runner within milliseconds; without the pin, a turn of another session waiting for a
 * slot would evict the runner first, and under load every turn would start cold.
 */
export const PIN_MS = 2_000;

/** The idle runner to hibernate first: least recently used, pinned ones passed by. */
export function leastRecentlyUsedIdle(entries: Iterable<Warm>, now: number): Warm | null {
  let lru: Warm | null = null;
  for (const w of entries) {
    if (!w.busy && w.pinnedUntil <= now && (!lru || w.lastUsed < lru.lastUsed)) lru = w;
  }
  return lru;
}

/** Milliseconds until the first pinned idle runner becomes evictable, or null if none is pinned. */
export function earliestPinLapse(entries: Iterable<Warm>, now: number): number | null {
  let earliest: number | null = null;
  for (const w of entries) {
    if (!w.busy && w.pinnedUntil > now) earliest = Math.min(earliest ?? Infinity, w.pinnedUntil - now);
  }
  return earliest === null ? null : Math.ceil(earliest) + 1;
}

export function settingsOf(config: SessionConfig): RunnerSettings {
  return { model: config.model ?? null, permissionMode: config.permissionMode ?? null };
}

