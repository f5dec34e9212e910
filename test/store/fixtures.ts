import { randomUUID } from 'node:crypto';
import type { EnqueueTurnInput } from '../../src/store/store.js';

/**
 * A valid enqueue of a first message to key `race`, with fresh turn and session ids: queue
 * rather than refuse, no cap or queue limit in the way, a one-minute idle TTL. Tests give only
 * what they are about.
 */
export function enqueueInput(over: Partial<EnqueueTurnInput> = {}): EnqueueTurnInput {
  return {
    tenant: 'default',
    key: 'race',
    backend: 'claude',
    config: { cwd: '/tmp' },
    labels: {},
    prompt: 'hi',
    owner: 'host:1:x',
    turnId: randomUUID(),
    newSessionId: randomUUID(),
    onBusy: 'queue',
    maxQueue: 1000,
    idleTimeoutMs: 60_000,
    maxSessions: 1000,
    onLimit: 'evict-lru',
    ...over,
  };
}

/** Closes a store that may already be closed (or never opened). */
export async function closeQuietly(store: { close(): Promise<void> }): Promise<void> {
  await store.close().catch(() => undefined);
}
