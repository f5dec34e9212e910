import { randomUUID } from 'node:crypto';
import { isoNow } from '../domain/clock.js';
import { standingTurns } from '../domain/history.js';
import { JSON_BOUNDS, depthProblem } from '../domain/json-bounds.js';
import { validateKey, validateLabels } from '../domain/keys.js';
import type { SessionConfig, SessionRecord, TurnRecord } from '../domain/types.js';
import { ErrorCode, TetherError } from '../errors.js';
import type { ImportedTranscript, TranscriptEntry } from '../store/store.js';
import { backendOf, type BrokerContext } from './context.js';
import { BUNDLE_FORMAT, BUNDLE_VERSION, bundleSchema, type SessionBundle } from './bundle.js';
import { resolveCwd } from './send-options.js';

/*
 * Copying conversations: fork (a copy here under another key), export (a portable bundle) and
 * import (a bundle recreated here). The transcript travels through the store's mirror, so a copy
 * continues on any node and under any HOME.
 */

/** What copying sessions needs of the broker. */
export type CopyDeps = Pick<BrokerContext, 'store' | 'backends' | 'agentEnv' | 'config' | 'labelQuotas' | 'emitter' | 'clock'>;

/** A new session under `newKey` whose conversation is a copy of `key`'s (see Tether.fork). */
export async function forkSession(deps: CopyDeps, tenant: string, key: string, newKey: string, options: { atTurn?: number; replace?: boolean }): Promise<SessionRecord> {
  validateKey(key);
  validateKey(newKey);
  if (newKey === key) throw new TetherError(ErrorCode.INVALID_INPUT, 'a fork needs a key of its own');
  const source = await deps.store.getLiveSession(tenant, key);
  if (!source) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
  if (source.agentSessionId === null) throw new TetherError(ErrorCode.INVALID_INPUT, `session "${key}" has no conversation to fork yet`);
  const ended = standingTurns(await deps.store.listTurns({ tenant, key })).filter((t) => t.sessionId === source.id && t.status !== 'queued' && t.status !== 'running');
  const atTurn = options.atTurn;
  if (atTurn !== undefined && (!Number.isInteger(atTurn) || !ended.some((t) => t.seq === atTurn))) {
    throw new TetherError(ErrorCode.INVALID_INPUT, `atTurn must be the number of an ended turn of "${key}"'s current session (${ended.map((t) => t.seq).join(', ') || 'none'})`);
  }
  const kept = atTurn === undefined ? ended : ended.filter((t) => t.seq <= atTurn);
  const backend = backendOf(deps, source.backend);
  if (!backend.fork) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${source.backend} backend cannot fork conversations`);
  const agentSessionId = await backend.fork(
    { agentSessionId: source.agentSessionId, cwd: source.config.cwd, env: { ...deps.agentEnv, ...source.config.env } },
    atTurn === undefined ? null : kept.length,
  );
  return importRecord(deps, tenant, newKey, { ...source, agentSessionId }, kept, options.replace === true);
}

/** The key's session as a portable bundle (see Tether.export). */
export async function exportSession(deps: CopyDeps, tenant: string, key: string): Promise<SessionBundle> {
  validateKey(key);
  const session = (await deps.store.getLiveSession(tenant, key)) ?? (await deps.store.getLatestSession(tenant, key));
  if (!session) throw new TetherError(ErrorCode.NOT_FOUND, `no session for key "${key}"`);
  const turns = standingTurns(await deps.store.listTurns({ tenant, key })).filter((t) => t.sessionId === session.id && t.status !== 'queued' && t.status !== 'running');
  let main: TranscriptEntry[] = [];
  const subpaths: Record<string, TranscriptEntry[]> = {};
  if (session.agentSessionId !== null) {
    // The store's copy, completed from the local file first if that has more.
    const backend = backendOf(deps, session.backend);
    await backend.verify?.(session.agentSessionId, session.config.cwd, { ...deps.agentEnv, ...session.config.env });
    main = (await deps.store.loadTranscript({ agentSessionId: session.agentSessionId })) ?? [];
    for (const subpath of await deps.store.listTranscriptSubpaths(session.agentSessionId)) {
      subpaths[subpath] = (await deps.store.loadTranscript({ agentSessionId: session.agentSessionId, subpath })) ?? [];
    }
  }
  const { env: _env, ...config } = session.config;
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    exportedAt: isoNow(deps.clock),
    session: {
      key: session.key,
      backend: session.backend,
      generation: session.generation,
      agentSessionId: session.agentSessionId,
      config,
      labels: session.labels,
      metadata: session.metadata as SessionBundle['session']['metadata'],
      usage: session.usage,
      context: session.context,
    },
    turns: turns.map((t) => ({
      seq: t.seq,
      prompt: t.prompt,
      status: t.status as 'succeeded' | 'failed' | 'interrupted',
      text: t.text,
      error: t.error,
      usage: t.usage,
      createdAt: t.createdAt,
      startedAt: t.startedAt,
      endedAt: t.endedAt,
    })),
    transcript: { main, subpaths },
  };
}

/** Recreates a bundle's session (see Tether.import). A refused import changes nothing. */
export async function importSession(deps: CopyDeps, tenant: string, bundle: unknown, options: { key?: string; replace?: boolean; cwd?: string }): Promise<SessionRecord> {
  // Before the schema: its validators recurse, and a bundle nested thousands deep would overflow the stack.
  const tooDeep = depthProblem(bundle, JSON_BOUNDS.documentDepth);
  if (tooDeep) throw new TetherError(ErrorCode.INVALID_INPUT, `not a Tether session bundle: it is ${tooDeep}`);
  const parsed = bundleSchema.safeParse(bundle);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TetherError(ErrorCode.INVALID_INPUT, `not a Tether session bundle (format ${BUNDLE_FORMAT}, version ${BUNDLE_VERSION}): ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const b = parsed.data;
  validateKey(b.session.key);
  const key = validateKey(options.key ?? b.session.key);
  validateLabels(b.session.labels);
  let cwd: string;
  try {
    cwd = resolveCwd(options.cwd ?? b.session.config.cwd);
  } catch {
    throw new TetherError(ErrorCode.INVALID_INPUT, `the bundle's working directory ${options.cwd ?? b.session.config.cwd} does not exist here; import with a cwd of this machine`);
  }
  // The store refuses this too, in the import's transaction; asked first, so that an import over
  // a live key makes no copy of the conversation on its way to being refused.
  if (options.replace !== true && (await deps.store.getLiveSession(tenant, key))) throw keyTaken(key);
  const config: SessionConfig = { ...b.session.config, cwd };
  let agentSessionId = b.session.agentSessionId;
  let transcripts: ImportedTranscript[] = [];
  let copied: string | null = null;
  if (agentSessionId !== null && b.transcript.main.length > 0) {
    if ((await deps.store.loadTranscript({ agentSessionId })) === null) {
      // Written by the store in the import's own transaction: a refused import leaves none behind.
      transcripts = [
        { entries: b.transcript.main as TranscriptEntry[] },
        ...Object.entries(b.transcript.subpaths).map(([subpath, lines]) => ({ subpath, entries: lines as TranscriptEntry[] })),
      ];
    } else {
      // This store already holds that conversation (the bundle came from here): the import
      // gets a copy of its own, so the two sessions never write into one transcript.
      const backend = backendOf(deps, b.session.backend);
      if (!backend.fork) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `the ${b.session.backend} backend cannot copy conversations`);
      agentSessionId = copied = await backend.fork({ agentSessionId, cwd, env: deps.agentEnv }, null);
    }
  }
  try {
    return await importRecord(
      deps,
      tenant,
      key,
      { backend: b.session.backend, agentSessionId, config, labels: b.session.labels, metadata: b.session.metadata, usage: b.session.usage, context: b.session.context },
      b.turns,
      options.replace === true,
      transcripts,
    );
  } catch (err) {
    // Refused after all (the cap, a label quota, a session that became live meanwhile): the copy
    // made for it goes too.
    if (copied !== null) await deps.store.deleteTranscript({ agentSessionId: copied }).catch(() => undefined);
    throw err;
  }
}

/** The refusal of an import over a key with a live session, as the store words it. */
const keyTaken = (key: string): TetherError =>
  new TetherError(ErrorCode.INVALID_INPUT, `key "${key}" already has a live session; choose another key, or replace it`, { details: { key } });

async function importRecord(
  deps: CopyDeps,
  tenant: string,
  key: string,
  from: Pick<SessionRecord, 'backend' | 'agentSessionId' | 'config' | 'labels' | 'metadata' | 'usage' | 'context'>,
  turns: Array<Pick<TurnRecord, 'prompt' | 'status' | 'text' | 'error' | 'usage' | 'createdAt' | 'startedAt' | 'endedAt'>>,
  replace: boolean,
  transcripts: ImportedTranscript[] = [],
): Promise<SessionRecord> {
  const { session, closed } = await deps.store.importSession({
    tenant,
    key,
    newSessionId: randomUUID(),
    backend: from.backend,
    agentSessionId: from.agentSessionId,
    config: from.config,
    labels: from.labels,
    metadata: from.metadata,
    usage: from.usage,
    context: from.context,
    turns: turns.map((t) => ({ ...t, status: t.status as 'succeeded' | 'failed' | 'interrupted' })),
    replace,
    ...(transcripts.length > 0 ? { transcripts } : {}),
    maxSessions: deps.config.maxSessions,
    onLimit: deps.config.onLimit,
    idleTimeoutMs: deps.config.idleTimeoutSec * 1000,
    ...(deps.labelQuotas ? { labelQuotas: deps.labelQuotas } : {}),
  });
  for (const c of closed) deps.emitter.closed(c);
  deps.emitter.session('session.created', session);
  return session;
}
