import type { BackendName, CloseReason, SessionRecord } from './types.js';

/**
 * Decides, before a message is queued on a quiet session, whether the conversation must be
 * closed first (a new generation then carries the message). Pluggable: compaction (a later
 * rule) answers differently for the same context.
 */
export type ContextPolicy = (session: SessionRecord) => CloseReason | null;

/** Seed 000's rule: at `resetAt` of the window (0.8 = 160K of 200K), start over. */
export function resetAtRatio(thresholds: Readonly<Record<BackendName, number>>): ContextPolicy {
  return (session) => {
    const { tokens, window } = session.context;
    // Compare tokens, not the display ratio: that one is rounded and would reset a token early.
    return window > 0 && tokens >= thresholds[session.backend] * window ? 'context' : null;
  };
}
