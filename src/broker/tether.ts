import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { createClaudeBackend } from '../agents/claude/index.js';
import type { AgentBackend } from '../agents/agent.js';
import { loadConfig, type TetherConfig, type TetherConfigInput } from '../config.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { resetAtRatio, type ContextPolicy } from '../domain/context-policy.js';
import { failedTurnEvent, isTerminalTurnEvent, type SessionEvent, type TetherEvent, type TetherEventType, type TurnCompletedEvent, type TurnFailedEvent } from '../domain/events.js';
import { validateKey, validateLabels, validateTenant } from '../domain/keys.js';
import { EMPTY_CONTEXT, ZERO_USAGE, type BackendName, type Lease, type SessionRecord, type TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, toTetherError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { OnBusy, SessionPatch, SharedEvent, Store } from '../store/store.js';
import type { CompactResult, GcResult, ListFilter, SessionUpdate, Readiness, SendOptions, SequencedEvent, Tether, TetherListener, TetherStats, TurnHandle } from './api.js';
import { TurnEventLog } from './event-log.js';
import { EventBus } from './event-bus.js';
import { EventShare } from './event-share.js';
import { Janitor } from './janitor.js';
import { RunnerPool } from './runners/pool.js';
import { createOwnerId, OWNER_MARKER, type OwnerId } from './owner.js';
import type { SessionBundle } from './bundle.js';
import { exportSession, forkSession, importSession, type CopyDeps } from './copying.js';
import { resolveSend, sessionUpdateSchema } from './send-options.js';
import { TurnHandleImpl } from './turn-handle.js';
import { runTurn, type TurnDeps } from './turns.js';
import { UsageGate } from './usage-gate.js';
import { Wakeups } from './wakeups.js';

/** Library options: any setting of `config.ts`, plus what cannot come from the environment. */
export interface CreateTetherOptions extends Partial<TetherConfigInput> {
  /** Time source for TTLs and leases; tests pass a ManualClock. */
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

const DEFAULT_GRACE_MS = 30_000;
/** Claude Code's command to summarize the conversation so far into a shorter one. */
const COMPACT_PROMPT = '/compact';

/** Where a turn comes from: a caller's message, Tether itself (compaction), or `regenerate`. */
type TurnIntent = 'message' | 'internal' | 'regenerate' | 'continue';
/** How often a follower of a turn run by another process checks the journal. */
const JOURNAL_POLL_MS = 250;

/** Opens the store, ends what a dead process left running, starts the janitor. */
export async function createTether(options: CreateTetherOptions = {}): Promise<Tether> {
  const { clock, env = process.env, store, backends, contextPolicy, logger, ...settings } = options;
  const config = loadConfig(settings, env);
  const log = logger ?? pino({ level: config.logLevel, name: 'tether' }, pino.destination(2));
  const theStore =
    store ??
    openStore({
      db: config.db,
      persistence: config.persistence,
      clock: clock ?? systemClock,
      synchronous: config.sqliteSynchronous,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      ...(config.databaseSchema ? { databaseSchema: config.databaseSchema } : {}),
      // Locks of a node that hangs mid-transaction are freed well within a lease TTL.
      idleInTransactionTimeoutMs: Math.max(1_000, Math.min(5_000, Math.floor(config.leaseTtlMs / 3))),
    });
  const broker = new Broker({
    config,
    env,
    clock: clock ?? systemClock,
    store: theStore,
    backends: {
      claude: createClaudeBackend({
        ...(config.claudePath ? { claudePath: config.claudePath } : {}),
        ...(config.mirrorTranscripts ? { transcripts: theStore } : {}),
      }),
      ...backends,
    },
    contextPolicy: contextPolicy ?? resetAtRatio(config.resetAt),
    logger: log,
  });
  try {
    await broker.start();
  } catch (err) {
    await theStore.close().catch(() => undefined);
    throw err;
  }
  return broker;
}

interface BrokerDeps {
  config: TetherConfig;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  store: Store;
  backends: Partial<Record<BackendName, AgentBackend>>;
  contextPolicy: ContextPolicy;
  logger: Logger;
}

class Broker implements Tether {
  readonly #config: TetherConfig;
  readonly #env: NodeJS.ProcessEnv;
  /** What agents inherit: the environment plus the marker naming this broker (see reaper.ts). */
  readonly #agentEnv: NodeJS.ProcessEnv;
  readonly #store: Store;
  readonly #backends: Partial<Record<BackendName, AgentBackend>>;
  readonly #policy: ContextPolicy;
  readonly #log: Logger;
  readonly #owner: OwnerId = createOwnerId();
  readonly #bus: EventBus;
  readonly #wakeups = new Wakeups();
  readonly #janitor: Janitor;
  readonly #pool: RunnerPool;
  /** Sends of this process that have not ended (accepted or not yet), by a local id. */
  readonly #inFlight = new Map<string, { handle: TurnHandleImpl; done: Promise<void> }>();
  /** Accepted turns of this process that have not ended, by turn id. */
  readonly #handles = new Map<string, TurnHandleImpl>();
  readonly #eventLog = new TurnEventLog({ retainMs: 15 * 60_000, maxTurns: 1000 });
  readonly #usageGate: UsageGate;
  /** `TETHER_LABEL_QUOTAS`: live sessions at most per value of a label. */
  readonly #labelQuotas: Record<string, number> | null;
  /** Events to and from other nodes on the store; null when not shared. */
  readonly #share: EventShare | null;
  /** Remote turns in flight: the journal id of the last of their events in the log. */
  readonly #remoteSeen = new Map<string, number>();
  #heartbeat: NodeJS.Timeout | undefined;
  #closing = false;
  #closed: Promise<void> | null = null;

  constructor(deps: BrokerDeps) {
    this.#config = deps.config;
    this.#env = deps.env;
    this.#store = deps.store;
    this.#backends = deps.backends;
    this.#policy = deps.contextPolicy;
    this.#log = deps.logger;
    this.#bus = new EventBus((err) => this.#log.warn({ err }, 'event listener threw'));
    this.#agentEnv = { ...this.#env, [OWNER_MARKER]: this.#owner.id };
    this.#usageGate = new UsageGate(deps.clock);
    this.#labelQuotas = Object.keys(this.#config.labelQuotas).length > 0 ? this.#config.labelQuotas : null;
    const share = this.#config.shareEvents ?? this.#store.kind === 'postgres';
    this.#share = share
      ? new EventShare({ store: this.#store, origin: this.#owner.id, logger: this.#log, deliver: (item) => this.#ingestRemote(item) })
      : null;
    this.#pool = new RunnerPool({
      backend: this.#backend('claude'),
      maxLive: this.#config.maxLive,
      idleMs: this.#config.liveIdleSec * 1000,
      spares: this.#config.spares,
      env: this.#agentEnv,
      clock: deps.clock,
      logger: this.#log,
    });
    this.#janitor = new Janitor({
      store: this.#store,
      owner: this.#owner,
      logger: this.#log,
      maxSessions: this.#config.maxSessions,
      pool: this.#pool,
      adoptOrphans: this.#config.orphanedTurns === 'rerun',
      onAdopted: (turns) => {
        for (const turn of turns) this.#runAdopted(turn);
      },
      emit: (event) => this.#emit(event),
    });
  }

  async start(): Promise<void> {
    await this.#beat();
    // Other nodes tell this one is alive by its heartbeat (a pid check only works on one host).
    this.#heartbeat = setInterval(() => void this.#beat(), Math.max(250, Math.floor(this.#config.leaseTtlMs / 3)));
    this.#heartbeat.unref();
    await this.#share?.start();
    const result = await this.#janitor.run();
    if (result.recovered + result.adopted > 0) {
      this.#log.info({ recovered: result.recovered, adopted: result.adopted }, 'took over what a stopped process left');
    }
    this.#janitor.start(this.#config.janitorIntervalSec);
    this.#pool.start();
  }

  send(key: string, prompt: string, options: SendOptions = {}): TurnHandle {
    return this.#send(key, prompt, options, 'message');
  }

  regenerate(key: string, options: { tenant?: string; signal?: AbortSignal } = {}): TurnHandle {
    return this.#send(key, '', { ...(options.tenant !== undefined ? { tenant: options.tenant } : {}), ...(options.signal ? { signal: options.signal } : {}) }, 'regenerate');
  }

  continue(key: string, options: { tenant?: string; signal?: AbortSignal; onBusy?: OnBusy } = {}): TurnHandle {
    const { tenant, signal, onBusy } = options;
    return this.#send(key, '', { ...(tenant !== undefined ? { tenant } : {}), ...(signal ? { signal } : {}), ...(onBusy ? { onBusy } : {}) }, 'continue');
  }

  /**
   * `internal`: a turn Tether sends itself (a compaction), which never triggers another.
   * `regenerate`: the key's last prompt again, in place of its reply; `continue`: the agent goes
   * on without new text. For both, `prompt` is looked up.
   */
  #send(key: string, prompt: string, options: SendOptions, intent: TurnIntent): TurnHandle {
    const handle = new TurnHandleImpl();
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) handle.interrupt();
      else signal.addEventListener('abort', () => handle.interrupt(), { once: true });
    }
    const done = this.#accept(handle, key, prompt, options, intent);
    const id = randomUUID();
    this.#inFlight.set(id, { handle, done });
    void done.finally(() => this.#inFlight.delete(id));
    return handle;
  }

  /** Validates, checks the agent, journals the turn, then runs it. Every path settles the handle. */
  async #accept(handle: TurnHandleImpl, key: string, prompt: string, options: SendOptions, intent: TurnIntent): Promise<void> {
    let turn: TurnRecord;
    let session: SessionRecord;
    let granted: { lease: Lease; interrupted: TurnRecord[] } | undefined;
    try {
      if (this.#closing) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down; send the message again once it is back');
      let regenerates: TurnRecord | undefined;
      if (intent === 'regenerate') {
        regenerates = await this.#lastTurn(this.#tenant(options), validateKey(key));
        prompt = regenerates.prompt;
      } else if (intent === 'continue') {
        prompt = await this.#continuePrompt(this.#tenant(options), validateKey(key));
      }
      const resolved = resolveSend(key, prompt, options, this.#config);
      const backendName: BackendName = 'claude';
      const backend = this.#backend(backendName);
      let live = await this.#store.getLiveSession(resolved.tenant, resolved.key);
      if (intent === 'message' && live && this.#wantsCompaction(live)) {
        await this.#autoCompact(live);
        live = await this.#store.getLiveSession(resolved.tenant, resolved.key);
      }
      // A continuing session keeps its own config; the options shape only a new one.
      await backend.preflight(live?.config ?? resolved.config, { ...this.#env, ...(live?.config ?? resolved.config).env });
      const queued = await this.#store.enqueueTurn({
        tenant: resolved.tenant,
        key: resolved.key,
        backend: backendName,
        config: resolved.config,
        labels: resolved.labels,
        metadata: resolved.metadata,
        ...(this.#labelQuotas ? { labelQuotas: this.#labelQuotas } : {}),
        prompt: resolved.prompt,
        ...(regenerates ? { regenerates: regenerates.id } : {}),
        ...(intent === 'continue' ? { requireLive: true } : {}),
        owner: this.#owner.id,
        turnId: randomUUID(),
        newSessionId: randomUUID(),
        onBusy: regenerates ? 'reject' : resolved.onBusy,
        maxQueue: this.#config.maxQueue,
        idleTimeoutMs: this.#config.idleTimeoutSec * 1000,
        maxSessions: this.#config.maxSessions,
        onLimit: this.#config.onLimit,
        rotate: this.#policy,
        // While the usage limit holds turns back, a new turn waits `queued`, not holding a lease.
        ...(this.#usageGate.until === null ? { leaseTtlMs: this.#config.leaseTtlMs } : {}),
      });
      turn = queued.turn;
      session = queued.session;
      if (queued.lease) granted = { lease: queued.lease, interrupted: queued.interrupted ?? [] };
      for (const closed of queued.closed) this.#emitClosed(closed);
      if (queued.created) this.#emitSession('session.created', session);
    } catch (err) {
      const error = toTetherError(err);
      handle.fail(error);
      return;
    }
    handle.accept({ turnId: turn.id, sessionId: session.id, seq: turn.seq });
    this.#handles.set(turn.id, handle);
    this.#emit(
      {
        type: 'turn.queued',
        tenant: turn.tenant,
        key: turn.key,
        turnId: turn.id,
        sessionId: session.id,
        seq: turn.seq,
        // `queued` counts this turn too: those before it wait ahead of it.
        position: turn.status === 'queued' ? Math.max(0, session.queued - 1) : 0,
        at: new Date().toISOString(),
      },
      handle,
    );
    try {
      await runTurn(this.#turnDeps(), handle, turn, session, granted);
    } finally {
      this.#handles.delete(turn.id);
    }
  }

  /** What a `continue` turn of the key's live session sends (see AgentBackend.continuePrompt). */
  async #continuePrompt(tenant: string, key: string): Promise<string> {
    // The store refuses an expired session at the enqueue (`requireLive`); this finds the backend.
    const live = await this.#store.getLiveSession(tenant, key);
    if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}" to go on with; send it a message first`);
    const prompt = this.#backend(live.backend).continuePrompt;
    if (prompt === undefined) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${live.backend} backend cannot take a turn without user text`);
    return prompt;
  }

  /** The key's last turn, for `regenerate` (the store checks it is still the last, ended); not a compaction. */
  async #lastTurn(tenant: string, key: string): Promise<TurnRecord> {
    const live = await this.#store.getLiveSession(tenant, key);
    if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
    const last = (await this.#store.listTurns({ tenant, key, afterSeq: live.turnSeq - 1 })).find((t) => t.sessionId === live.id && t.seq === live.turnSeq);
    if (!last) throw new TetherError(ErrorCode.INVALID_INPUT, `session "${key}" has no reply to regenerate yet; send it a message first`);
    // Busy, expired, or no longer the last turn by the time it is journaled: the store refuses.
    if (last.prompt === COMPACT_PROMPT) throw new TetherError(ErrorCode.INVALID_INPUT, `the last turn of "${key}" compacted its conversation; there is no reply to regenerate`);
    return last;
  }

  /**
   * Runs a turn a dead process accepted but never started. Nobody awaits it here: its events go
   * to listeners, the event log (`turnEvents`, SSE) and its outcome to the journal.
   */
  #runAdopted(turn: TurnRecord): void {
    const handle = new TurnHandleImpl();
    this.#handles.set(turn.id, handle);
    const done = (async () => {
      try {
        const session = await this.#store.getSession(turn.sessionId);
        if (!session) return;
        this.#log.info({ turnId: turn.id, key: turn.key }, 'running a turn accepted by a process that stopped');
        await runTurn(this.#turnDeps(), handle, turn, session);
      } catch (err) {
        this.#log.warn({ err, turnId: turn.id }, 'could not run an adopted turn');
      } finally {
        this.#handles.delete(turn.id);
      }
    })();
    const id = randomUUID();
    this.#inFlight.set(id, { handle, done });
    void done.finally(() => this.#inFlight.delete(id));
  }

  #turnDeps(): TurnDeps {
    return {
      store: this.#store,
      pool: this.#pool,
      owner: this.#owner,
      wakeups: this.#wakeups,
      logger: this.#log,
      leaseTtlMs: this.#config.leaseTtlMs,
      idleTimeoutMs: this.#config.idleTimeoutSec * 1000,
      maxTurnDurationMs: this.#config.maxTurnDurationSec * 1000,
      env: this.#agentEnv,
      rewind: async (session, prompt) => {
        const backend = this.#backend(session.backend);
        if (!backend.rewind) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${session.backend} backend cannot regenerate replies`);
        if (session.agentSessionId === null) return null;
        return backend.rewind({ agentSessionId: session.agentSessionId, cwd: session.config.cwd, env: { ...this.#agentEnv, ...session.config.env } }, prompt);
      },
      usageGate: this.#usageGate,
      emit: (event, handle) => this.#emit(event, handle),
    };
  }

  #backend(name: BackendName): AgentBackend {
    const backend = this.#backends[name];
    if (!backend) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `no ${name} backend is configured`);
    return backend;
  }

  #emit(event: TetherEvent, handle?: TurnHandleImpl): void {
    if (event.turnId !== undefined) this.#eventLog.append(event.turnId, event);
    handle?.emit(event);
    this.#bus.emit(event);
    this.#share?.publish(event);
  }

  /** Another node's event: into the turn's replayable log (numbered as there) and to listeners. */
  async #ingestRemote(item: SharedEvent): Promise<void> {
    const event = item.event as TetherEvent;
    const turnId = event.turnId;
    if (turnId !== undefined) {
      // Joined mid-turn: the turn's earlier events first, so sequence numbers match its node's.
      if (!this.#eventLog.has(turnId) && event.type !== 'turn.queued') await this.#seedRemoteTurn(turnId, event.tenant, item.id);
      if (!this.#appendRemote(turnId, item)) return;
      // A turn that ended elsewhere frees its session's lease: the turns waiting here go now.
      if (isTerminalTurnEvent(event) && event.sessionId) this.#wakeups.wake(event.sessionId);
    }
    this.#bus.emit(event);
  }

  /** Appends a remote turn event once (the tail and a history read may both bring it). */
  #appendRemote(turnId: string, item: SharedEvent): boolean {
    if (item.id <= (this.#remoteSeen.get(turnId) ?? 0)) return false;
    const event = item.event as TetherEvent;
    this.#eventLog.ensure(turnId, event.tenant);
    this.#eventLog.append(turnId, event);
    if (isTerminalTurnEvent(event)) this.#remoteSeen.delete(turnId);
    else this.#remoteSeen.set(turnId, item.id);
    return true;
  }

  /** Reads a remote turn's events so far into the log (those before `beforeId`). */
  async #seedRemoteTurn(turnId: string, tenant: string, beforeId = Number.POSITIVE_INFINITY): Promise<void> {
    this.#eventLog.ensure(turnId, tenant);
    for (const past of await this.#share!.turnHistory(turnId)) {
      if (past.id < beforeId) this.#appendRemote(turnId, past);
    }
  }

  #emitSession(type: SessionEvent['type'], session: SessionRecord, reason?: string): void {
    this.#emit({
      type,
      tenant: session.tenant,
      key: session.key,
      sessionId: session.id,
      generation: session.generation,
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    });
  }

  #emitClosed(session: SessionRecord): void {
    switch (session.closeReason) {
      case 'expired':
        return this.#emitSession('session.expired', session);
      case 'evicted':
        return this.#emitSession('session.evicted', session);
      case 'context':
        return this.#emitSession('session.reset', session, 'context');
      case 'reset':
        return this.#emitSession('session.reset', session, 'user');
      default:
        return undefined;
    }
  }

  #tenant(options?: { tenant?: string }): string {
    return validateTenant(options?.tenant ?? this.#config.tenant);
  }

  async get(key: string, options?: { tenant?: string }): Promise<SessionRecord | null> {
    const tenant = this.#tenant(options);
    validateKey(key);
    return (await this.#store.getLiveSession(tenant, key)) ?? (await this.#store.getLatestSession(tenant, key));
  }

  async peek(key: string, options?: { tenant?: string }) {
    const tenant = this.#tenant(options);
    validateKey(key);
    const live = await this.#store.getLiveSession(tenant, key);
    if (!live) return { exists: false, busy: false, sessionId: null, agentSessionId: null, queued: 0 };
    const now = await this.#store.now();
    const leased = live.lease !== null && live.lease.expiresAt > now;
    return { exists: true, busy: leased || live.queued > 0, sessionId: live.id, agentSessionId: live.agentSessionId, queued: live.queued };
  }

  async list(filter: ListFilter = {}): Promise<SessionRecord[]> {
    const tenant = this.#tenant(filter);
    return this.#store.listSessions({ ...filter, tenant });
  }

  async turns(key: string, options?: { tenant?: string; limit?: number }): Promise<TurnRecord[]> {
    const tenant = this.#tenant(options);
    validateKey(key);
    return this.#store.listTurns({ tenant, key, ...(options?.limit ? { limit: options.limit } : {}) });
  }

  async getTurn(turnId: string, options?: { tenant?: string }): Promise<TurnRecord | null> {
    const tenant = this.#tenant(options);
    const turn = await this.#store.getTurn(turnId);
    // Another tenant's turn is indistinguishable from a missing one.
    return turn && turn.tenant === tenant ? turn : null;
  }

  async reset(key: string, options?: { tenant?: string }): Promise<SessionRecord> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const closed = await this.#store.closeSession(tenant, key, 'reset');
    if (closed) {
      this.#emitSession('session.reset', closed, 'user');
      return closed;
    }
    const latest = await this.#store.getLatestSession(tenant, key);
    if (!latest) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
    return latest;
  }

  async delete(key: string, options?: { tenant?: string }): Promise<void> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const removed = await this.#store.deleteKey(tenant, key);
    if (removed === 0) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
  }

  async update(key: string, patch: SessionUpdate, options: { tenant?: string } = {}): Promise<SessionRecord> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const parsed = sessionUpdateSchema.safeParse(patch);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TetherError(ErrorCode.INVALID_INPUT, `invalid update ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
    const { model, permissionMode, labels, metadata } = parsed.data;
    if (labels) validateLabels(Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => e[1] !== null)));
    const config: NonNullable<SessionPatch['config']> = {};
    if (model !== undefined) config.model = model;
    if (permissionMode !== undefined) config.permissionMode = permissionMode;
    const updated = await this.#store.updateSession(tenant, key, {
      ...(Object.keys(config).length > 0 ? { config } : {}),
      ...(labels ? { labels } : {}),
      ...(metadata ? { metadata } : {}),
      ...(this.#labelQuotas ? { labelQuotas: this.#labelQuotas } : {}),
    });
    // No runner to touch: the next turn's node switches its warm process, or resumes cold.
    return updated;
  }

  fork(key: string, newKey: string, options: { tenant?: string; atTurn?: number; replace?: boolean } = {}): Promise<SessionRecord> {
    return forkSession(this.#copyDeps(), this.#tenant(options), key, newKey, options);
  }

  export(key: string, options: { tenant?: string } = {}): Promise<SessionBundle> {
    return exportSession(this.#copyDeps(), this.#tenant(options), key);
  }

  import(bundle: unknown, options: { tenant?: string; key?: string; replace?: boolean; cwd?: string } = {}): Promise<SessionRecord> {
    return importSession(this.#copyDeps(), this.#tenant(options), bundle, options);
  }

  #copyDeps(): CopyDeps {
    return {
      store: this.#store,
      backend: (name) => this.#backend(name),
      agentEnv: this.#agentEnv,
      config: this.#config,
      labelQuotas: this.#labelQuotas,
      emitClosed: (session) => this.#emitClosed(session),
      emitCreated: (session) => this.#emitSession('session.created', session),
    };
  }

  async compact(key: string, options: { tenant?: string } = {}): Promise<CompactResult> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const live = await this.#store.getLiveSession(tenant, key);
    if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
    if (live.agentSessionId === null) throw new TetherError(ErrorCode.INVALID_INPUT, `session "${key}" has no conversation to compact yet; send it a message first`);
    return this.#compactNow(tenant, key);
  }

  /** Runs `/compact` as a turn of the key's session and reports what it did. */
  async #compactNow(tenant: string, key: string): Promise<CompactResult> {
    const handle = this.#send(key, COMPACT_PROMPT, { tenant }, 'internal');
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

  /** Past `compactAt` of its window (and short of `resetAt`, where rotation takes over), a quiet session is compacted first. */
  #wantsCompaction(session: SessionRecord): boolean {
    const { tokens, window } = session.context;
    if (window <= 0 || session.agentSessionId === null || session.queued > 0 || session.status !== 'idle') return false;
    return tokens >= this.#config.compactAt[session.backend] * window && this.#policy(session) === null;
  }

  /**
   * Compacts before the message that would otherwise overflow. When compaction fails, the
   * session is closed for `context` instead: the message opens a new generation, which starts
   * with a recap of the last exchanges (a soft reset, not a blank slate).
   */
  async #autoCompact(session: SessionRecord): Promise<void> {
    try {
      await this.#compactNow(session.tenant, session.key);
    } catch (err) {
      this.#log.warn({ err, key: session.key }, 'compaction failed; the next message starts a new generation with a recap');
      const closed = await this.#store.closeSession(session.tenant, session.key, 'context').catch(() => null);
      if (closed) this.#emitSession('session.reset', closed, 'context');
    }
  }

  async stats(options?: { tenant?: string }): Promise<TetherStats> {
    const tenant = options?.tenant === undefined ? null : validateTenant(options.tenant);
    const stats = await this.#store.stats(tenant ?? undefined);
    const until = this.#usageGate.until;
    const ended = stats.turns.succeeded + stats.turns.failed + stats.turns.interrupted;
    return {
      ...stats,
      averageTurnMs: stats.turnTime.turns > 0 ? Math.round(stats.turnTime.totalMs / stats.turnTime.turns) : null,
      errorRate: ended > 0 ? Math.round((stats.turns.failed / ended) * 10_000) / 10_000 : null,
      tenant,
      runningHere: this.#handles.size,
      runners: this.#pool.stats,
      ...(until !== null ? { usageLimit: { until: new Date(until).toISOString(), reason: this.#usageGate.reason } } : {}),
    };
  }

  async interrupt(key: string, options?: { tenant?: string }): Promise<{ turnId: string | null }> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const running = (await this.#store.listTurns({ tenant, key })).filter((t) => t.status === 'running');
    for (const turn of running) {
      const handle = this.#handles.get(turn.id);
      if (handle) {
        handle.interrupt();
        return { turnId: turn.id };
      }
    }
    // Running in another process or on another node: it sees the request at its next renewal.
    for (const turn of running) {
      if (await this.#store.requestInterrupt(turn.id)) return { turnId: turn.id };
    }
    return { turnId: null };
  }

  async *turnEvents(turnId: string, options: { tenant?: string; afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<SequencedEvent> {
    const tenant = this.#tenant(options);
    const signal = options.signal;
    if (this.#eventLog.has(turnId)) {
      if (this.#eventLog.tenantOf(turnId) !== tenant) throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${turnId}`);
      yield* this.#eventLog.follow(turnId, options.afterSeq ?? 0, signal);
      return;
    }
    // Running on another node: its events come through the shared journal.
    if (this.#share) {
      const turn = await this.#store.getTurn(turnId);
      if (turn && turn.tenant === tenant && (turn.status === 'queued' || turn.status === 'running')) {
        await this.#seedRemoteTurn(turnId, tenant);
        yield* this.#eventLog.follow(turnId, options.afterSeq ?? 0, signal);
        return;
      }
    }
    // Not run here (another process) or no longer retained: the journal has the outcome.
    for (;;) {
      const turn = await this.#store.getTurn(turnId);
      if (!turn || turn.tenant !== tenant) throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${turnId}`);
      if (turn.status !== 'queued' && turn.status !== 'running') {
        yield { seq: 0, event: await this.#outcomeEvent(turn) };
        return;
      }
      if (signal?.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, JOURNAL_POLL_MS));
    }
  }

  async #outcomeEvent(turn: TurnRecord): Promise<TurnCompletedEvent | TurnFailedEvent> {
    const at = new Date(turn.endedAt ?? Date.now());
    if (turn.status !== 'succeeded') return failedTurnEvent(turn, at);
    const session = await this.#store.getSession(turn.sessionId);
    return {
      type: 'turn.completed',
      tenant: turn.tenant,
      key: turn.key,
      turnId: turn.id,
      sessionId: turn.sessionId,
      at: at.toISOString(),
      agentSessionId: session?.agentSessionId ?? null,
      text: turn.text ?? '',
      usage: turn.usage ?? { ...ZERO_USAGE },
      context: turn.context ?? { ...EMPTY_CONTEXT },
      durationMs: turn.startedAt !== null && turn.endedAt !== null ? turn.endedAt - turn.startedAt : 0,
    };
  }

  async readiness(): Promise<Readiness> {
    const store: Readiness['store'] = { ok: true, kind: this.#store.kind };
    try {
      await this.#store.now();
    } catch (err) {
      store.ok = false;
      store.error = err instanceof Error ? err.message : String(err);
    }
    const agent: Readiness['agent'] = { ok: true };
    try {
      this.#backend('claude').locate();
    } catch (err) {
      agent.ok = false;
      agent.error = err instanceof Error ? err.message : String(err);
    }
    return { ready: store.ok && agent.ok && !this.#closing, store, agent };
  }

  gc(): Promise<GcResult> {
    return this.#janitor.run();
  }

  on(type: TetherEventType | '*', listener: TetherListener): () => void {
    return this.#bus.on(type, listener);
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#shutdown(options.graceMs ?? DEFAULT_GRACE_MS);
    return this.#closed;
  }

  /** Heartbeats last a lease TTL: a node silent that long is as gone as its leases. */
  async #beat(ttlMs = this.#config.leaseTtlMs): Promise<void> {
    try {
      await this.#store.heartbeat(this.#owner.id, ttlMs);
      // A usage limit another node ran into holds this node's turns back too.
      const limit = ttlMs > 0 ? await this.#store.getUsageLimit('claude') : null;
      if (limit && this.#usageGate.close(limit.until, limit.reason)) {
        this.#log.warn({ until: new Date(limit.until).toISOString() }, 'usage limit reached (seen by another node); turns wait until it resets');
      }
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat failed');
    }
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#janitor.stop();
    clearInterval(this.#heartbeat);
    const pending = [...this.#inFlight.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([Promise.all(pending.map((p) => p.done)).then(() => 'done' as const), grace]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.#log.warn({ turns: pending.length }, 'grace period over; interrupting running turns');
        for (const p of pending) p.handle.interrupt();
        await Promise.all(pending.map((p) => p.done));
      }
    }
    // Every agent process ends before the store closes: nothing outlives Tether.
    await this.#pool.close();
    this.#owner.release();
    await this.#share?.stop();
    await this.#beat(0);
    await this.#store.close();
  }
}
