import type { TetherConfig } from '../config.js';
import type { ContextPolicy } from '../domain/context-policy.js';
import type { SessionEvent } from '../domain/events.js';
import type { SessionRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { CompactResult, TurnHandle } from './api.js';

/**
 * Whether a session is compacted before its next message: past `compactAt` of its window, and
 * short of `resetAt` (where the policy rotates it instead), with a conversation to compact. The
 * store asks this inside the transaction that journals the message, for a quiet session only.
 */
export function wantsCompaction(config: Pick<TetherConfig, 'compactAt'>, policy: ContextPolicy, session: SessionRecord): boolean {
  const { tokens, window } = session.context;
  if (window <= 0 || session.agentSessionId === null) return false;
  return tokens >= config.compactAt[session.backend] * window && policy(session) === null;
}

/**
 * What a compaction turn did, read from its stream: the `session.compacted` event and the
 * turn's result. AGENT_FAILED when the agent ended the turn without compacting.
 */
export async function compactionOf(handle: TurnHandle, key: string): Promise<CompactResult> {
  let compacted: SessionEvent | null = null;
  const watching = (async () => {
    for await (const event of handle) if (event.type === 'session.compacted') compacted = event;
  })().catch(() => undefined);
  const result = await handle.result;
  await watching;
  const done = compacted as SessionEvent | null;
  if (!done) throw new TetherError(ErrorCode.AGENT_FAILED, `the agent did not compact the conversation of "${key}"`);
  return { turnId: result.turnId, sessionId: result.sessionId, preTokens: done.preTokens ?? 0, postTokens: done.postTokens ?? 0, context: result.context };
}
