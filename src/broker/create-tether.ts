import type { Logger } from 'pino';
import { createLogger } from '../lib/logger.js';
import { ApprovalDesk } from './approvals.js';
import { dirname, join, resolve } from 'node:path';
import { createClaudeBackend } from '../agents/claude/index.js';
import { createCodexBackend } from '../agents/codex/index.js';
import { packageVersion } from '../lib/package-version.js';
import type { AgentBackend } from '../agents/agent.js';
import { loadConfig, type TetherConfig, type TetherConfigInput } from '../config.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { resetAtRatio, type ContextPolicy } from '../domain/context-policy.js';
import { isTerminalTurnEvent, type TetherEvent } from '../domain/events.js';
import type { BackendName } from '../domain/types.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { runAdopted, type AcceptContext } from './accept.js';
import type { Tether } from './api.js';
import { Broker } from './broker.js';
import type { BrokerContext } from './context.js';
import { Emitter } from './emitter.js';
import { TurnsInFlight } from './in-flight.js';
import { Janitor } from './janitor.js';
import { LeaseKeeper } from './leases.js';
import { BrokerNode } from './node.js';
import { createOwnerId, OWNER_MARKER } from './owner.js';
import { RunnerPool } from './runners/pool.js';
import { JournalTurnEvents } from './turn-events/journal.js';
import { MemoryTurnEvents } from './turn-events/memory.js';
import type { TurnEvents } from './turn-events/port.js';
import { UsageGates } from './usage-gate.js';
import { Wakeups } from './wakeups.js';
import type { TeamsRuntime } from '../teams/runtime.js';

/** Library options: any setting of `config.ts`, plus what cannot come from the environment. */
export interface CreateTetherOptions extends Partial<TetherConfigInput> {
  /** Time source for TTLs, leases and every timer of the broker; tests pass a ManualClock. */
  clock?: Clock;
  /** Environment for settings and for the agent processes; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** A store to use instead of opening one from `db` / `persistence`. Closed with Tether. */
  store?: Store;
  /** Agent backends by name; defaults to Claude through the Agent SDK. */
  backends?: Partial<Record<BackendName, AgentBackend>>;
  /** Replaces the context rule (default: reset at `resetAt` of the window). */
  contextPolicy?: ContextPolicy;
  logger?: Logger;
}

/** How long a finished turn's events stay replayable, and how many finished turns are kept in memory at most. */
const EVENTS_RETAIN_MS = 15 * 60_000;
const EVENTS_MAX_TURNS = 1000;

/** Where tenants' CODEX_HOMEs go: TETHER_CODEX_HOMES, else `codex/` beside the SQLite file. */
function codexHomesOf(config: TetherConfig): string {
  if (config.codexHomes) return resolve(config.codexHomes);
  const beside = config.persistence && config.db !== ':memory:' && !config.databaseUrl ? dirname(resolve(config.db)) : resolve('data');
  return join(beside, 'codex');
}

/** Opens the store, ends what a dead process left running, starts the janitor. */
export async function createTether(options: CreateTetherOptions = {}): Promise<Tether> {
  const { clock = systemClock, env = process.env, store: given, backends, contextPolicy, logger, ...settings } = options;
  const config = loadConfig(settings, env);
  const log = logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const store =
    given ??
    openStore({
      db: config.db,
      persistence: config.persistence,
      clock,
      synchronous: config.sqliteSynchronous,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      ...(config.databaseSchema ? { databaseSchema: config.databaseSchema } : {}),
      // Locks of a node that hangs mid-transaction are freed well within a lease TTL.
      idleInTransactionTimeoutMs: Math.max(1_000, Math.min(5_000, Math.floor(config.leaseTtlMs / 3))),
    });
  // Before anything is started: a bad teams file refuses the start, every problem listed.
  // Loaded only with a teams file: the MCP SDK is a third of the start-up time of every command.
  const teams: TeamsRuntime | null = config.teams ? (await import('../teams/runtime.js')).TeamsRuntime.open(config, { logger: log.child({ component: 'teams' }), clock }) : null;
  const owner = createOwnerId();
  const agentEnv = { ...env, [OWNER_MARKER]: owner.id };
  const allBackends: Partial<Record<BackendName, AgentBackend>> = {
    claude: createClaudeBackend({
      ...(config.claudePath ? { claudePath: config.claudePath } : {}),
      ...(config.mirrorTranscripts ? { transcripts: store } : {}),
      nice: config.agentNice,
    }),
    codex: createCodexBackend({
      ...(config.codexPath ? { codexPath: config.codexPath } : {}),
      ...(config.codexConfig ? { baseConfig: resolve(config.codexConfig) } : {}),
      homesDir: codexHomesOf(config),
      threadsPerProcess: config.codexThreadsPerProcess,
      ...(config.mirrorTranscripts ? { transcripts: store } : {}),
      nice: config.agentNice,
      version: packageVersion(),
    }),
    ...backends,
  };

  // Nodes on PostgreSQL share their events by default. On SQLite the processes sharing a file
  // are rarer (a CLI beside the daemon) and each shared event would cost a commit on the event
  // loop, so it is asked for (TETHER_SHARE_EVENTS); without it, another process's turn is
  // followed by its outcome only.
  const share = config.shareEvents ?? store.kind === 'postgres';
  const wakeups = new Wakeups(clock);
  // Called back only once the tail runs (node.start), when `emitter` is set.
  const onForeign = (event: TetherEvent): void => {
    emitter.foreign(event);
    // A turn that ended on another node frees its session's lease: the turns waiting here go now.
    if (isTerminalTurnEvent(event) && event.sessionId) wakeups.wake(event.sessionId);
  };
  const turnEvents: TurnEvents = share
    ? new JournalTurnEvents({ store, clock, origin: owner.id, logger: log, retainMs: EVENTS_RETAIN_MS, maxTurns: EVENTS_MAX_TURNS, onForeign })
    : new MemoryTurnEvents({ clock, retainMs: EVENTS_RETAIN_MS, maxTurns: EVENTS_MAX_TURNS });
  const emitter = new Emitter(turnEvents, clock, log);
  const approvals = new ApprovalDesk({ store, clock, log, config, emitter });

  const ctx: BrokerContext = {
    config,
    clock,
    store,
    log,
    owner,
    backends: allBackends,
    pool: new RunnerPool({
      backends: allBackends,
      spareBackend: allBackends.claude!,
      maxLive: config.maxLive,
      idleMs: config.liveIdleSec * 1000,
      spares: config.spares,
      env: agentEnv,
      clock,
      logger: log,
    }),
    wakeups,
    leases: new LeaseKeeper({ store, clock, log, config }),
    usageGates: new UsageGates(clock),
    emitter,
    turnEvents,
    approvals,
    policy: contextPolicy ?? resetAtRatio(config.resetAt),
    agentEnv,
    labelQuotas: Object.keys(config.labelQuotas).length > 0 ? config.labelQuotas : null,
    agentTools: (session) => teams?.agentTools(session) ?? [],
    keyDefaults: (key) => teams?.keyDefaults(key) ?? null,
  };
  const inFlight = new TurnsInFlight();
  const accept: AcceptContext = { ...ctx, inFlight, closing: () => node.closing };
  const janitor = new Janitor(ctx, config.orphanedTurns === 'rerun' ? (turns) => turns.forEach((turn) => runAdopted(accept, turn)) : null);
  const node = new BrokerNode(ctx, inFlight, janitor);
  const broker = new Broker(ctx, { accept, inFlight, janitor, node });
  if (teams) broker.useTeams(teams.bind(broker), () => teams.close());
  try {
    await node.start();
  } catch (err) {
    await store.close().catch(() => undefined);
    await teams?.close();
    throw err;
  }
  return broker;
}
