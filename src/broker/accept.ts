import { randomUUID } from 'node:crypto';
import { validateKey, validateTenant } from '../domain/keys.js';
import type { BackendName, SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError, toTetherError } from '../errors.js';
import type { EnqueueTurnResult } from '../store/store.js';
import type { SendOptions, TurnHandle } from './api.js';
import { COMPACT_PROMPT } from '../agents/agent.js';
import { wantsCompaction } from './compaction.js';
import { backendOf, type BrokerContext } from './context.js';
import type { TurnsInFlight } from './in-flight.js';
import { runTurn, type Granted, type TurnContext } from './run-turn.js';
import { resolveSend } from './send-options.js';
import { TurnHandleImpl } from './turn-handle.js';

/**
 * Where a turn comes from: a caller's message, Tether itself (a compaction asked for with
 * `compact`), `regenerate` (the key's last prompt again) or `continue` (no new text).
 */
export type TurnIntent = 'message' | 'internal' | 'regenerate' | 'continue';

export interface TurnRequest {
  key: string;
  /** Looked up for `regenerate` and `continue`. */
  prompt: string;
  options: SendOptions;
  intent: TurnIntent;
}

/** What accepting and running turns needs of the broker. */
export type AcceptContext = TurnContext & Pick<BrokerContext, 'policy' | 'labelQuotas' | 'turnEvents' | 'keyDefaults'> & { inFlight: TurnsInFlight; closing(): boolean };

/** Starts a turn: returns its handle at once; every path settles it. */
export function submit(ctx: AcceptContext, request: TurnRequest): TurnHandle {
  const handle = new TurnHandleImpl();
  const signal = request.options.signal;
  if (signal) {
    if (signal.aborted) handle.interrupt();
    else signal.addEventListener('abort', () => handle.interrupt(), { once: true });
  }
  ctx.inFlight.track(handle, accept(ctx, handle, request));
  return handle;
}

/**
 * Validates, checks the agent, journals the turn (and, when its session's context is past
 * `compactAt`, a compaction just before it, in the same transaction), acknowledges it, then runs
 * it. Nothing waits for the compaction: the prompt is journaled, and `accepted` resolves, first.
 */
async function accept(ctx: AcceptContext, handle: TurnHandleImpl, request: TurnRequest): Promise<void> {
  let queued: EnqueueTurnResult;
  try {
    queued = await journal(ctx, request);
  } catch (err) {
    handle.fail(toTetherError(err));
    return;
  }
  const { turn, session, compaction } = queued;
  const granted: Granted | undefined = queued.lease ? { lease: queued.lease, interrupted: queued.interrupted ?? [] } : undefined;
  for (const closed of queued.closed) ctx.emitter.closed(closed);
  if (queued.created) ctx.emitter.session('session.created', session);
  if (compaction) announce(ctx, compaction, session, 0);
  announce(ctx, turn, session, turn.status === 'queued' ? Math.max(0, session.queued - 1) : 0);
  handle.accept({ turnId: turn.id, sessionId: session.id, seq: turn.seq }, ctx.turnEvents.follow(turn.id, 0)!);
  ctx.inFlight.accepted(turn.id, handle);
  try {
    // The compaction holds the lease first; the prompt, still `queued` meanwhile (so a crash
    // during the compaction loses it not), runs as soon as the compaction ends.
    const compacted = compaction ? await runInternal(ctx, compaction, session, granted) : true;
    // After a failed compaction the conversation is as long as before: the prompt still runs on
    // it (it fits, short of `resetAt`), and its session then closes for `context`, so that the
    // next message opens a new generation that starts with a recap (a soft reset).
    await runTurn(ctx, handle, turn, session, compaction ? undefined : granted, compacted ? undefined : 'context');
  } finally {
    ctx.inFlight.ended(turn.id);
  }
}

/** Everything that can be refused before a thing is written, then the enqueue. */
async function journal(ctx: AcceptContext, request: TurnRequest): Promise<EnqueueTurnResult> {
  if (ctx.closing()) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down; send the message again once it is back');
  const { intent, options } = request;
  const tenant = validateTenant(options.tenant ?? ctx.config.tenant);
  let prompt = request.prompt;
  let regenerates: TurnRecord | undefined;
  if (intent === 'regenerate') {
    regenerates = await lastTurn(ctx, tenant, validateKey(request.key));
    prompt = regenerates.prompt;
  } else if (intent === 'continue') {
    prompt = await continuePrompt(ctx, tenant, validateKey(request.key));
  }
  const resolved = resolveSend(request.key, prompt, withKeyDefaults(ctx, request.key, options), ctx.config);
  const live = await ctx.store.getLiveSession(resolved.tenant, resolved.key);
  // A continuing session keeps its own config and agent; the options shape only a new one.
  if (live && resolved.backendAsked && live.backend !== resolved.backend) {
    throw new TetherError(
      ErrorCode.INVALID_INPUT,
      `session "${resolved.key}" runs on ${live.backend}; reset it to start a ${resolved.backend} conversation under this key`,
      { details: { key: resolved.key, backend: live.backend } },
    );
  }
  const backendName: BackendName = live?.backend ?? resolved.backend;
  const config = live?.config ?? resolved.config;
  await backendOf(ctx, backendName).preflight(config, { ...ctx.agentEnv, ...config.env });
  return ctx.store.enqueueTurn({
    tenant: resolved.tenant,
    key: resolved.key,
    backend: backendName,
    config: resolved.config,
    labels: resolved.labels,
    metadata: resolved.metadata,
    ...(ctx.labelQuotas ? { labelQuotas: ctx.labelQuotas } : {}),
    prompt: resolved.prompt,
    ...(regenerates ? { regenerates: regenerates.id } : {}),
    ...(intent === 'continue' ? { requireLive: true } : {}),
    ...(intent === 'message' ? { compactFirst: { turnId: randomUUID(), prompt: COMPACT_PROMPT, wanted: (s) => wantsCompaction(ctx.config, ctx.policy, s) } } : {}),
    owner: ctx.owner.id,
    turnId: randomUUID(),
    newSessionId: randomUUID(),
    onBusy: regenerates ? 'reject' : resolved.onBusy,
    maxQueue: ctx.config.maxQueue,
    idleTimeoutMs: ctx.config.idleTimeoutSec * 1000,
    maxSessions: ctx.config.maxSessions,
    onLimit: ctx.config.onLimit,
    rotate: ctx.policy,
    // While the usage limit holds turns back, a new turn waits `queued`, not holding a lease.
    ...(ctx.usageGates.of(backendName).until === null ? { leaseTtlMs: ctx.config.leaseTtlMs } : {}),
  });
}

/** `turn.queued`: the first event of a turn's stream. */
function announce(ctx: AcceptContext, turn: TurnRecord, session: SessionRecord, position: number): void {
  ctx.emitter.emit({ type: 'turn.queued', tenant: turn.tenant, key: turn.key, turnId: turn.id, sessionId: session.id, seq: turn.seq, position, at: ctx.emitter.now() });
}

/** Runs a turn Tether journaled itself (a compaction before a message); true when it succeeded. */
async function runInternal(ctx: AcceptContext, turn: TurnRecord, session: SessionRecord, granted?: Granted): Promise<boolean> {
  const handle = new TurnHandleImpl();
  handle.accept({ turnId: turn.id, sessionId: session.id, seq: turn.seq }, ctx.turnEvents.follow(turn.id, 0)!);
  ctx.inFlight.accepted(turn.id, handle);
  const run = runTurn(ctx, handle, turn, session, granted).finally(() => ctx.inFlight.ended(turn.id));
  // Tracked on its own, so that shutdown interrupts it like any turn.
  ctx.inFlight.track(handle, run);
  await run;
  try {
    await handle.result;
    return true;
  } catch (err) {
    ctx.log.warn({ err, key: turn.key }, 'compaction failed; the next message starts a new generation with a recap');
    return false;
  }
}

/** Runs a turn a dead process accepted but never started: its events and outcome reach the journal and listeners. */
export function runAdopted(ctx: AcceptContext, turn: TurnRecord): void {
  const handle = new TurnHandleImpl();
  const done = (async () => {
    try {
      const session = await ctx.store.getSession(turn.sessionId);
      if (!session) return;
      ctx.log.info({ turnId: turn.id, key: turn.key }, 'running a turn accepted by a process that stopped');
      await ctx.turnEvents.continueTurn(turn.id);
      handle.accept({ turnId: turn.id, sessionId: session.id, seq: turn.seq }, ctx.turnEvents.follow(turn.id, 0)!);
      ctx.inFlight.accepted(turn.id, handle);
      await runTurn(ctx, handle, turn, session);
    } catch (err) {
      ctx.log.warn({ err, turnId: turn.id }, 'could not run an adopted turn');
    } finally {
      ctx.inFlight.ended(turn.id);
    }
  })();
  ctx.inFlight.track(handle, done);
}

/** What a `continue` turn of the key's live session sends (see AgentBackend.continuePrompt). */
async function continuePrompt(ctx: AcceptContext, tenant: string, key: string): Promise<string> {
  // The store refuses an expired session at the enqueue (`requireLive`); this finds the backend.
  const live = await ctx.store.getLiveSession(tenant, key);
  if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}" to go on with; send it a message first`);
  const prompt = backendOf(ctx, live.backend).continuePrompt;
  if (prompt === undefined) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${live.backend} backend cannot take a turn without user text`);
  return prompt;
}

/** The key's last turn, for `regenerate` (the store checks it is still the last, ended); not a compaction. */
async function lastTurn(ctx: AcceptContext, tenant: string, key: string): Promise<TurnRecord> {
  const live = await ctx.store.getLiveSession(tenant, key);
  if (!live) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
  const last = (await ctx.store.listTurns({ tenant, key, afterSeq: live.turnSeq - 1 })).find((t) => t.sessionId === live.id && t.seq === live.turnSeq);
  if (!last) throw new TetherError(ErrorCode.INVALID_INPUT, `session "${key}" has no reply to regenerate yet; send it a message first`);
  // Busy, expired, or no longer the last turn by the time it is journaled: the store refuses.
  if (last.prompt === COMPACT_PROMPT) throw new TetherError(ErrorCode.INVALID_INPUT, `the last turn of "${key}" compacted its conversation; there is no reply to regenerate`);
  return last;
}

/**
 * The message's options over what its key implies: a `team:A->B` message runs in B's project with
 * B's settings whoever sends it (the MCP tools, the CLI, another daemon), unless it names its own.
 */
function withKeyDefaults(ctx: Pick<AcceptContext, 'keyDefaults'>, key: string, options: SendOptions): SendOptions {
  const implied = typeof key === 'string' ? ctx.keyDefaults(key) : null;
  if (!implied) return options;
  return { ...implied, ...options, labels: { ...implied.labels, ...options.labels } };
}
