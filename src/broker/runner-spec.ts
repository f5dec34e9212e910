import { randomUUID } from 'node:crypto';
import type { RunnerSpec } from '../agents/agent.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import type { BrokerContext } from './context.js';
import { recapFromJournal } from './recap.js';

/**
 * The RunnerSpec of `session`'s agent process: for the turn `turn` (its recap stops before it),
 * or for a process woken ahead of the next turn (null: the recap takes every ended turn). One
 * function for both, so a woken process is exactly the one that turn would have started.
 */
export function runnerSpecOf(ctx: Pick<BrokerContext, 'store' | 'agentEnv' | 'agentTools'>, session: SessionRecord, turn: TurnRecord | null): RunnerSpec {
  return {
    config: session.config,
    resume: session.agentSessionId,
    newConversationId: randomUUID(),
    env: { ...ctx.agentEnv, ...session.config.env },
    priorCostUsd: session.usage.costUsd,
    tenant: session.tenant,
    recap: () => recapFromJournal(ctx.store, session, turn),
    tools: ctx.agentTools(session),
  };
}
