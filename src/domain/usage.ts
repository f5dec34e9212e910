import type { ContextInfo, Usage } from './types.js';

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    // Costs are estimates in dollars; round to micro-dollars so sums stay stable across stores.
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e6) / 1e6,
  };
}

/**
 * Context of a conversation = what its last API call sent: fresh input plus cached prefix
 * (read or written). Output tokens join the next call's input, but only once that call is made.
 */
export function contextOf(lastCall: { inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number }, window: number): ContextInfo {
  const tokens = lastCall.inputTokens + lastCall.cacheReadTokens + lastCall.cacheWriteTokens;
  return { tokens, window, ratio: window > 0 ? Math.round((tokens / window) * 1e4) / 1e4 : 0 };
}

/**
 * Context windows by model family, for when the agent does not report one (it does for Claude,
 * through `modelUsage[model].contextWindow`). Longest matching prefix wins.
 */
const CONTEXT_WINDOWS: ReadonlyArray<readonly [prefix: string, tokens: number]> = [
  ['claude-', 200_000],
  ['gpt-5', 400_000],
  ['gpt-4.1', 1_000_000],
  ['gpt-4o', 128_000],
  ['o3', 200_000],
  ['o4', 200_000],
  ['codex', 400_000],
];

export const DEFAULT_CONTEXT_WINDOW = 200_000;

export function fallbackContextWindow(model: string | undefined): number {
  if (!model) return DEFAULT_CONTEXT_WINDOW;
  let best: readonly [string, number] | undefined;
  for (const entry of CONTEXT_WINDOWS) {
    if (model.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  }
  return best ? best[1] : DEFAULT_CONTEXT_WINDOW;
}
