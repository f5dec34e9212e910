import type { TetherEventType } from '../domain/events.js';
import { validateKey } from '../domain/keys.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { OnBusy } from '../store/store.js';
import { submit, type AcceptContext, type TurnIntent } from './accept.js';
import type { ApprovalRecord } from '../domain/approvals.js';
import type {
  ApprovalDecisionInput,
  ApprovalListFilter,
  CompactResult,
  GcResult,
  ListFilter,
  Readiness,
  SendOptions,
  SequencedEvent,
  SessionUpdate,
  Tether,
  TetherListener,
  TetherStats,
  TurnHandle,
  UsageOptions,
  WakeResult,
} from './api.js';
import type { SessionBundle } from './bundle.js';
import { COMPACT_PROMPT } from '../agents/agent.js';
import { compactionOf } from './compaction.js';
import type { BrokerContext } from './context.js';
import { exportSession, forkSession, importSession } from './copying.js';
import type { TurnsInFlight } from './in-flight.js';
import type { Janitor } from './janitor.js';
import type { BrokerNode } from './node.js';
import * as ops from './session-ops.js';
import { followTurn } from './turn-follow.js';
import { usageOf } from './usage.js';
import type { UsageSeries } from '../domain/usage-series.js';
import { sleepKey, wakeKey } from './warmth.js';
import type { TeamsService } from '../teams/service.js';

const DEFAULT_GRACE_MS = 30_000;

/**
 * Tether in this process: the `Tether` interface (api.ts) over a store, agent processes and the
 * parts in this folder, each of which does one thing — accepting turns (accept.ts), running them
 * (run-turn.ts, outcome.ts), leases (lease-wait.ts, leases.ts), turn events (turn-events/),
 * session operations (session-ops.ts, copying.ts), waking and hibernating agent processes
 * (warmth.ts), the janitor, and this node's heartbeat and
 * shutdown (node.ts). `connectTether` gives the same interface over HTTP. Built by `createTether`.
 */
export class Broker implements Tether {
  readonly #ctx: BrokerContext;
  readonly #inFlight: TurnsInFlight;
  readonly #janitor: Janitor;
  readonly #node: BrokerNode;
  readonly #accept: AcceptContext;

  #teams: { service: TeamsService; close: () => Promise<void> } | null = null;
  #closed: Promise<void> | null = null;

  constructor(ctx: BrokerContext, parts: { accept: AcceptContext; inFlight: TurnsInFlight; janitor: Janitor; node: BrokerNode }) {
    this.#ctx = ctx;
    this.#accept = parts.accept;
    this.#inFlight = parts.inFlight;
    this.#janitor = parts.janitor;
    this.#node = parts.node;
  }

  send(key: string, prompt: string, options: SendOptions = {}): TurnHandle {
    return this.#submit(key, prompt, options, 'message');
  }

  regenerate(key: string, options: { tenant?: string; signal?: AbortSignal } = {}): TurnHandle {
    const { tenant, signal } = options;
    return this.#submit(key, '', { ...(tenant !== undefined ? { tenant } : {}), ...(signal ? { signal } : {}) }, 'regenerate');
  }

  continue(key: string, options: { tenant?: string; signal?: AbortSignal; onBusy?: OnBusy } = {}): TurnHandle {
    const { tenant, signal, onBusy } = options;
    return this.#submit(key, '', { ...(tenant !== undefined ? { tenant } : {}), ...(signal ? { signal } : {}), ...(onBusy ? { onBusy } : {}) }, 'continue');
  }

  #submit(key: string, prompt: string, options: SendOptions, intent: TurnIntent): TurnHandle {
    return submit(this.#accept, { key, prompt, options, intent });
  }

  #tenant(options?: { tenant?: string }): string {
    return ops.tenantOf(this.#ctx, options);
  }

  get(key: string, options?: { tenant?: string }): Promise<SessionRecord | null> {
    return ops.getSession(this.#ctx, this.#tenant(options), key);
  }

  peek(key: string, options?: { tenant?: string }) {
    return ops.peekSession(this.#ctx, this.#tenant(options), key);
  }

  list(filter: ListFilter = {}): Promise<SessionRecord[]> {
    return ops.listSessions(this.#ctx, this.#tenant(filter), filter);
  }

  turns(key: string, options?: { tenant?: string; limit?: number }): Promise<TurnRecord[]> {
    return ops.listTurns(this.#ctx, this.#tenant(options), key, options?.limit);
  }

  getTurn(turnId: string, options?: { tenant?: string }): Promise<TurnRecord | null> {
    return ops.getTurn(this.#ctx, this.#tenant(options), turnId);
  }

  reset(key: string, options?: { tenant?: string }): Promise<SessionRecord> {
    return ops.resetSession(this.#ctx, this.#tenant(options), key);
  }

  delete(key: string, options?: { tenant?: string }): Promise<void> {
    return ops.deleteKey(this.#ctx, this.#tenant(options), key);
  }

  update(key: string, patch: SessionUpdate, options: { tenant?: string } = {}): Promise<SessionRecord> {
    return ops.updateSession(this.#ctx, this.#tenant(options), key, patch);
  }

  fork(key: string, newKey: string, options: { tenant?: string; atTurn?: number; replace?: boolean } = {}): Promise<SessionRecord> {
    return forkSession(this.#ctx, this.#tenant(options), key, newKey, options);
  }

  export(key: string, options: { tenant?: string } = {}): Promise<SessionBundle> {
    return exportSession(this.#ctx, this.#tenant(options), key);
  }

  import(bundle: unknown, options: { tenant?: string; key?: string; replace?: boolean; cwd?: string } = {}): Promise<SessionRecord> {
    return importSession(this.#ctx, this.#tenant(options), bundle, options);
  }

  /** Runs `/compact` as a turn of the key's session and reports what it did. */
  async compact(key: string, options: { tenant?: string } = {}): Promise<CompactResult> {
    const tenant = this.#tenant(options);
    validateKey(key);
    const live = await this.#ctx.store.getLiveSession(tenant, key);
    if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
    if (live.agentSessionId === null) throw new TetherError(ErrorCode.INVALID_INPUT, `session "${key}" has no conversation to compact yet; send it a message first`);
    return compactionOf(this.#submit(key, COMPACT_PROMPT, { tenant }, 'internal'), key);
  }

  wake(key: string, options?: { tenant?: string }): Promise<WakeResult> {
    return wakeKey(this.#ctx, this.#tenant(options), key);
  }

  sleep(key: string, options?: { tenant?: string }): Promise<{ slept: boolean }> {
    return sleepKey(this.#ctx, this.#tenant(options), key);
  }

  stats(options?: { tenant?: string }): Promise<TetherStats> {
    return ops.statsOf(this.#ctx, this.#inFlight, options);
  }

  usage(options?: UsageOptions): Promise<UsageSeries> {
    return usageOf(this.#ctx, options);
  }

  interrupt(key: string, options?: { tenant?: string }): Promise<{ turnId: string | null }> {
    return ops.interruptKey(this.#ctx, this.#inFlight, this.#tenant(options), key);
  }

  async *turnEvents(turnId: string, options: { tenant?: string; afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<SequencedEvent> {
    yield* followTurn(this.#ctx, this.#tenant(options), turnId, options.afterSeq ?? 0, options.signal);
  }

  approvals(filter: ApprovalListFilter = {}): Promise<ApprovalRecord[]> {
    const { tenant: _, ...rest } = filter;
    return this.#ctx.approvals.list({ ...rest, tenant: this.#tenant(filter) });
  }

  approval(id: string, options?: { tenant?: string }): Promise<ApprovalRecord | null> {
    return this.#ctx.approvals.get(this.#tenant(options), id);
  }

  decide(id: string, decision: ApprovalDecisionInput, options?: { tenant?: string }): Promise<ApprovalRecord> {
    return this.#ctx.approvals.decide(this.#tenant(options), id, decision);
  }

  readiness(): Promise<Readiness> {
    return this.#node.readiness();
  }

  startupSweep(): GcResult | null {
    return this.#node.startupSweep;
  }

  gc(): Promise<GcResult> {
    return this.#janitor.run();
  }

  on(type: TetherEventType | '*', listener: TetherListener): () => void {
    return this.#ctx.emitter.on(type, listener);
  }

  /** The teams of TETHER_TEAMS (set by createTether once the broker exists), or undefined. */
  get teams(): TeamsService | undefined {
    return this.#teams?.service;
  }

  /** Serves `service`'s teams; `close` ends them after the broker's turns have ended. */
  useTeams(service: TeamsService, close: () => Promise<void>): void {
    this.#teams = { service, close };
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    // The teams close last: a turn still draining may be a team agent waiting on a remote team.
    this.#closed ??= this.#node.close(options.graceMs ?? DEFAULT_GRACE_MS).then(() => this.#teams?.close());
    return this.#closed;
  }
}
