import { describe, expect, it } from 'vitest';
import { resetAtRatio } from '../../src/domain/context-policy.js';
import type { SessionRecord } from '../../src/domain/types.js';
import { addUsage, contextOf, fallbackContextWindow } from '../../src/domain/usage.js';

describe('usage and context', () => {
  it('adds usage and keeps costs to micro-dollars', () => {
    const a = { inputTokens: 1, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4, costUsd: 0.1 };
    expect(addUsage(a, { ...a, costUsd: 0.2 })).toEqual({ inputTokens: 2, outputTokens: 4, cacheReadTokens: 6, cacheWriteTokens: 8, costUsd: 0.3 });
  });

  it('measures context as input + cache read + cache write of the last call', () => {
    expect(contextOf({ inputTokens: 100_000, cacheReadTokens: 50_000, cacheWriteTokens: 10_000 }, 200_000)).toEqual({ tokens: 160_000, window: 200_000, ratio: 0.8 });
    expect(contextOf({ inputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 }, 0).ratio).toBe(0);
  });

  it('falls back to a window table by model prefix', () => {
    expect(fallbackContextWindow('claude-sonnet-4-5')).toBe(200_000);
    expect(fallbackContextWindow('gpt-4.1-mini')).toBe(1_000_000);
    expect(fallbackContextWindow(undefined)).toBe(200_000);
  });

  it('resets at the per-backend threshold (seed 000: 160K of 200K)', () => {
    const policy = resetAtRatio({ claude: 0.8, codex: 0.5 });
    const session = (backend: 'claude' | 'codex', tokens: number) =>
      ({ backend, context: contextOf({ inputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: 0 }, 200_000) }) as SessionRecord;
    expect(policy(session('claude', 159_999))).toBeNull();
    expect(policy(session('claude', 160_000))).toBe('context');
    expect(policy(session('codex', 100_000))).toBe('context');
  });
});
