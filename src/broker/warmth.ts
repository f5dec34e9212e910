import { validateKey } from '../domain/keys.js';
import type { SessionRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { WakeResult } from './api.js';
import type { BrokerContext } from './context.js';
import { runnerSpecOf } from './runner-spec.js';

/*
 * Waking and hibernating a key's agent process on this node, outside any turn.
 *
 * A wake takes no lease: it only starts a process, which the pool registers with the epoch of
 * the session's last granted lease, so the fencing that guards every warm runner guards this one:
 * - a turn run on another node meanwhile takes the next epoch, and the woken runner is stale for
 *   the turn after it here (retired, resumed cold), as any runner that missed a turn;
 * - a turn that starts here while the process comes up takes it once it is up (the pool makes
 *   its acquire wait for the wake), or, if it looked for a runner before the wake registered,
 *   starts its own and the wake's process is ended (the pool retires a displaced wake);
 * - a wake never touches a runner that is running a turn, and reports `busy` while the store
 *   says a turn holds the lease or waits for it.
 */

type WarmthContext = Pick<BrokerContext, 'store' | 'pool' | 'agentEnv' | 'agentTools'>;

const notFound = (key: string): TetherError => new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);

async function liveSession(ctx: WarmthContext, tenant: string, key: string): Promise<SessionRecord> {
  validateKey(key);
  const session = await ctx.store.getLiveSession(tenant, key);
  if (!session) throw notFound(key);
  return session;
}

export async function wakeKey(ctx: WarmthContext, tenant: string, key: string): Promise<WakeResult> {
  const session = await liveSession(ctx, tenant, key);
  // A lease past its expiry still counts while the turn's row says it runs: the janitor frees it.
  const leased = session.lease !== null && session.lease.expiresAt > (await ctx.store.now());
  if (leased || session.status === 'running' || session.queued > 0) return { status: 'busy', pid: ctx.pool.pidOf(session.id) };
  // Nothing to resume: the first turn starts the conversation (on a spare, when one is parked).
  if (session.agentSessionId === null) return { status: 'new', pid: null };
  // No lease is held (checked above), so the next turn runs under leaseEpoch + 1.
  return ctx.pool.wake(session, session.leaseEpoch, runnerSpecOf(ctx, session, null));
}

export async function sleepKey(ctx: WarmthContext, tenant: string, key: string): Promise<{ slept: boolean }> {
  const session = await liveSession(ctx, tenant, key);
  return { slept: await ctx.pool.hibernate(session.id) };
}
