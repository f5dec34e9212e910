import type { SessionBundle } from '../broker/bundle.js';
import type { ApprovalRecord } from '../domain/approvals.js';
import type { ApprovalDecisionInput, ApprovalListFilter, CompactResult, SessionUpdate, GcResult, ListFilter, Readiness, SendOptions, SequencedEvent, Tether, TetherListener, TetherStats, TurnHandle, UsageOptions, WakeResult } from '../broker/api.js';
import type { UsageSeries } from '../domain/usage-series.js';
import type { TetherEventType } from '../domain/events.js';
import { validateKey } from '../domain/keys.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';
import type { OnBusy } from '../store/store.js';
import { ErrorCode, TetherError, isTetherError } from '../errors.js';
import { EventTail } from './event-tail.js';
import { HttpClient, readJSON } from './http.js';
import { approvalAnswer, approvalsAnswer, compactAnswer, interruptAnswer, readinessAnswer, sessionAnswer, sessionsAnswer, sleepAnswer, statsAnswer, turnAnswer, turnsAnswer, usageAnswer, wakeAnswer } from './records.js';
import { sendTurn, type TurnRequest } from './send-turn.js';
import { DEFAULT_RETRY, SeqFilter, followTurn, type RetryPolicy } from './turn-stream.js';

export interface ConnectOptions {
  /** Base URL of the daemon, e.g. `http://127.0.0.1:7420` (a path prefix is kept). */
  url: string;
  /** API token, sent as `Authorization: Bearer`; it decides the tenant. */
  token?: string;
  /** A fetch to use instead of the global one (tests, proxies, custom agents). */
  fetch?: typeof fetch;
  /** How a broken turn stream is resumed; 5 reconnects, 100 ms doubling to 2 s by default. */
  retry?: RetryPolicy;
}

/** The daemon's caps (src/server/schemas.ts): a larger request is served in pages or clamped. */
const SESSIONS_PAGE = 1000;
const MAX_TURNS = 10_000;
const DEFAULT_GRACE_MS = 30_000;

/**
 * A Tether backed by a running daemon over HTTP, so code written against the library — the CLI
 * first — works unchanged in client mode. Differences from the embedded Tether, all forced by
 * the HTTP contract:
 * - the tenant is the token's: every `tenant` option is ignored (the daemon would refuse another);
 * - `send` refuses `env` (INVALID_INPUT): the agent's environment is the daemon operator's;
 * - a queued turn is interrupted when it starts, not withdrawn (see send-turn.ts);
 * - `peek` is derived from the session JSON: `busy` means running or with turns queued;
 * - records lack broker internals (lease, owner, epoch): see records.ts for their defaults;
 * - `gc` is refused (INVALID_INPUT): the daemon runs its own janitor and has no gc route;
 * - an unreachable daemon is DAEMON_UNREACHABLE ("cannot reach the Tether daemon at …", exit 1).
 */
export function connectTether(options: ConnectOptions): Tether {
  return new HttpTether(options);
}

class HttpTether implements Tether {
  readonly #http: HttpClient;
  readonly #retry: RetryPolicy;
  readonly #tail: EventTail;
  /** Aborted by close(): stops every stream this client has open. */
  readonly #closing = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #closed: Promise<void> | null = null;

  constructor(options: ConnectOptions) {
    this.#http = new HttpClient(options);
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#tail = new EventTail(this.#http);
  }

  send(key: string, prompt: string, options: SendOptions = {}): TurnHandle {
    return this.#turn(key, { prompt }, options);
  }

  regenerate(key: string, options: { signal?: AbortSignal } = {}): TurnHandle {
    return this.#turn(key, { operation: 'regenerate' }, options.signal ? { signal: options.signal } : {});
  }

  continue(key: string, options: { signal?: AbortSignal; onBusy?: OnBusy } = {}): TurnHandle {
    const { signal, onBusy } = options;
    return this.#turn(key, { operation: 'continue' }, { ...(signal ? { signal } : {}), ...(onBusy ? { onBusy } : {}) });
  }

  #turn(key: string, request: TurnRequest, options: SendOptions): TurnHandle {
    const { handle, done } = sendTurn({ http: this.#http, retry: this.#retry, closed: this.#closing.signal }, key, request, options);
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return handle;
  }

  async get(key: string): Promise<SessionRecord | null> {
    try {
      return sessionAnswer(await this.#json('GET', this.#session(key)));
    } catch (err) {
      if (isTetherError(err, ErrorCode.NOT_FOUND)) return null;
      throw err;
    }
  }

  async peek(key: string): Promise<{ exists: boolean; busy: boolean; sessionId: string | null; agentSessionId: string | null; queued: number }> {
    const session = await this.get(key);
    if (!session || (session.status !== 'idle' && session.status !== 'running')) {
      return { exists: false, busy: false, sessionId: null, agentSessionId: null, queued: 0 };
    }
    return {
      exists: true,
      busy: session.status === 'running' || session.queued > 0,
      sessionId: session.id,
      agentSessionId: session.agentSessionId,
      queued: session.queued,
    };
  }

  async list(filter: ListFilter = {}): Promise<SessionRecord[]> {
    const label = Object.entries(filter.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    // Over HTTP a metadata filter matches string values.
    const meta = Object.entries(filter.metadata ?? {}).map(([k, v]) => `${k}=${String(v)}`);
    const wanted = filter.limit ?? Number.POSITIVE_INFINITY;
    let offset = filter.offset ?? 0;
    const out: SessionRecord[] = [];
    // The daemon pages at 1000; the library promises everything (or `limit`), so read on.
    while (out.length < wanted) {
      const limit = Math.min(SESSIONS_PAGE, wanted - out.length);
      const page = sessionsAnswer(
        await this.#json('GET', '/v1/sessions', {
          query: { status: filter.status, q: filter.keyPrefix || undefined, backend: filter.backend, label: label.length > 0 ? label : undefined, meta: meta.length > 0 ? meta : undefined, limit, offset },
        }),
      );
      out.push(...page);
      if (page.length < limit) break;
      offset += page.length;
    }
    return out;
  }

  async turns(key: string, options: { limit?: number } = {}): Promise<TurnRecord[]> {
    try {
      // Clamped to the daemon's cap rather than refused: the CLI allows more than HTTP does.
      const limit = Math.min(options.limit ?? MAX_TURNS, MAX_TURNS);
      return turnsAnswer(await this.#json('GET', `${this.#session(key)}/turns`, { query: { limit } }));
    } catch (err) {
      // In-process an unknown key has no turns; the caller decides whether that is "not found".
      if (isTetherError(err, ErrorCode.NOT_FOUND)) return [];
      throw err;
    }
  }

  async getTurn(turnId: string): Promise<TurnRecord | null> {
    try {
      return turnAnswer(await this.#json('GET', `/v1/turns/${encodeURIComponent(turnId)}`));
    } catch (err) {
      if (isTetherError(err, ErrorCode.NOT_FOUND)) return null;
      throw err;
    }
  }

  async approvals(filter: ApprovalListFilter = {}): Promise<ApprovalRecord[]> {
    const { tenant: _, ...query } = filter;
    return approvalsAnswer(await this.#json('GET', '/v1/approvals', { query }));
  }

  async approval(id: string): Promise<ApprovalRecord | null> {
    try {
      return approvalAnswer(await this.#json('GET', `/v1/approvals/${encodeURIComponent(id)}`));
    } catch (err) {
      if (isTetherError(err, ErrorCode.NOT_FOUND)) return null;
      throw err;
    }
  }

  async decide(id: string, decision: ApprovalDecisionInput): Promise<ApprovalRecord> {
    return approvalAnswer(await this.#json('POST', `/v1/approvals/${encodeURIComponent(id)}`, { body: decision }));
  }

  async reset(key: string): Promise<SessionRecord> {
    return sessionAnswer(await this.#json('POST', `${this.#session(key)}/reset`));
  }

  async delete(key: string): Promise<void> {
    const response = await this.#request('DELETE', this.#session(key));
    await response.body?.cancel();
  }

  async stats(): Promise<TetherStats> {
    return statsAnswer(await this.#json('GET', '/v1/stats'));
  }

  async usage(options: UsageOptions = {}): Promise<UsageSeries> {
    const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
    return usageAnswer(await this.#json('GET', '/v1/usage', { query: { since: iso(options.since), until: iso(options.until), bucket: options.bucket, by: options.by } }));
  }

  async update(key: string, patch: SessionUpdate): Promise<SessionRecord> {
    return sessionAnswer(await this.#json('PATCH', this.#session(key), { body: patch }));
  }

  async fork(key: string, newKey: string, options: { atTurn?: number; replace?: boolean } = {}): Promise<SessionRecord> {
    validateKey(newKey);
    const body = { newKey, ...(options.atTurn !== undefined ? { atTurn: options.atTurn } : {}), ...(options.replace ? { replace: true } : {}) };
    return sessionAnswer(await this.#json('POST', `${this.#session(key)}/fork`, { body }));
  }

  async export(key: string): Promise<SessionBundle> {
    // The daemon built it from its own store; the shape is checked where it is imported.
    return (await this.#json('GET', `${this.#session(key)}/export`)) as SessionBundle;
  }

  async import(bundle: unknown, options: { key?: string; replace?: boolean; cwd?: string } = {}): Promise<SessionRecord> {
    const body = { bundle, ...(options.key !== undefined ? { key: options.key } : {}), ...(options.replace ? { replace: true } : {}), ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) };
    return sessionAnswer(await this.#json('POST', '/v1/sessions/import', { body }));
  }

  async compact(key: string): Promise<CompactResult> {
    return compactAnswer(await this.#json('POST', `${this.#session(key)}/compact`));
  }

  /** The daemon's node wakes it: the process runs there, not in this client's process. */
  async wake(key: string): Promise<WakeResult> {
    return wakeAnswer(await this.#json('POST', `${this.#session(key)}/wake`));
  }

  async sleep(key: string): Promise<{ slept: boolean }> {
    return sleepAnswer(await this.#json('POST', `${this.#session(key)}/sleep`));
  }

  async interrupt(key: string): Promise<{ turnId: string | null }> {
    const answer = interruptAnswer(await this.#json('POST', `${this.#session(key)}/interrupt`));
    return { turnId: answer.turnId };
  }

  async *turnEvents(turnId: string, options: { afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<SequencedEvent> {
    this.#open();
    const signal = options.signal ? AbortSignal.any([options.signal, this.#closing.signal]) : this.#closing.signal;
    yield* followTurn(this.#http, turnId, { filter: new SeqFilter(options.afterSeq ?? 0), signal, retry: this.#retry });
  }

  async readiness(): Promise<Readiness> {
    // 503 is an answer here, not a failure: it says what is not ready.
    const response = await this.#request('GET', '/readyz', { accept: [503] });
    return readinessAnswer(await readJSON(response));
  }

  async gc(): Promise<GcResult> {
    throw new TetherError(ErrorCode.INVALID_INPUT, "gc runs inside the daemon (its janitor sweeps on a timer); run `tether gc` on the daemon's host, without --server");
  }

  on(type: TetherEventType | '*', listener: TetherListener): () => void {
    this.#open();
    return this.#tail.on(type, listener);
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#shutdown(options.graceMs ?? DEFAULT_GRACE_MS);
    return this.#closed;
  }

  async #shutdown(graceMs: number): Promise<void> {
    // Turns run on the daemon and go on without us; waiting only lets their handles settle.
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.all(this.#inFlight), grace]);
      clearTimeout(timer);
    }
    this.#closing.abort();
    await Promise.all([this.#tail.stop(), ...this.#inFlight]);
  }

  #open(): void {
    if (this.#closed) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'this Tether client is closed');
  }

  #session(key: string): string {
    validateKey(key);
    return `/v1/sessions/${encodeURIComponent(key)}`;
  }

  #request(method: string, path: string, init: Parameters<HttpClient['request']>[2] = {}): Promise<Response> {
    this.#open();
    return this.#http.request(method, path, { signal: this.#closing.signal, ...init });
  }

  async #json(method: string, path: string, init: Parameters<HttpClient['request']>[2] = {}): Promise<unknown> {
    return readJSON(await this.#request(method, path, init));
  }
}
