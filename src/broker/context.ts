import type { Logger } from 'pino';
import type { AgentBackend, InProcessTools } from '../agents/agent.js';
import type { TetherConfig } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { ContextPolicy } from '../domain/context-policy.js';
import type { BackendName, SessionRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { SendOptions } from './api.js';
import type { ApprovalDesk } from './approvals.js';
import type { Emitter } from './emitter.js';
import type { LeaseKeeper } from './leases.js';
import type { OwnerId } from './owner.js';
import type { RunnerPool } from './runners/pool.js';
import type { TurnEvents } from './turn-events/port.js';
import type { UsageGates } from './usage-gate.js';
import type { Wakeups } from './wakeups.js';

/**
 * What the broker's parts share: settings, time, the store, this process's identity, its agent
 * processes, and where events go. Built once by `createTether`; each part takes the members it
 * needs (a `Pick` of this), so its dependencies stay visible and a unit test gives only those.
 */
export interface BrokerContext {
  config: TetherConfig;
  clock: Clock;
  store: Store;
  log: Logger;
  /** This broker process, as leases and turns name it. */
  owner: OwnerId;
  backends: Partial<Record<BackendName, AgentBackend>>;
  pool: RunnerPool;
  wakeups: Wakeups;
  /** Renews the leases of the turns this process runs. */
  leases: LeaseKeeper;
  /** Closed per backend while its account is out of quota. */
  usageGates: UsageGates;
  emitter: Emitter;
  turnEvents: TurnEvents;
  /** The approvals of the turns this process runs, and decisions taken here. */
  approvals: ApprovalDesk;
  /** The context rule: a reason to close a session before its next turn, or null. */
  policy: ContextPolicy;
  /** What agents inherit: the environment plus the marker naming this broker (see reaper.ts). */
  agentEnv: NodeJS.ProcessEnv;
  /** The MCP servers Tether serves in process to a session's agent (a team's tools), if any. */
  agentTools: (session: SessionRecord) => InProcessTools[];
  /** Session settings a key implies (a team's, for `team:A->B`), under the message's own options. */
  keyDefaults: (key: string) => SendOptions | null;
  /** `TETHER_LABEL_QUOTAS`, or null when there are none. */
  labelQuotas: Record<string, number> | null;
}

/** The configured backend of that name; AGENT_UNAVAILABLE when there is none. */
export function backendOf(ctx: Pick<BrokerContext, 'backends'>, name: BackendName): AgentBackend {
  const backend = ctx.backends[name];
  if (!backend) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `no ${name} backend is configured`);
  return backend;
}
