import { existsSync } from 'node:fs';
import { COMPACT_PROMPT, type AgentEvent, type AgentResult, type Runner, type RunnerSettings, type RunnerSpec, type TurnHooks } from '../agent.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { ErrorCode } from '../../errors.js';
import { withRecap } from '../../domain/recap.js';
import type { TurnError } from '../../domain/types.js';
import type { HostLease } from './hosts.js';
import { answerApproval } from './approvals.js';
import { CodexTurnNormalizer } from './normalize.js';
import type { TokenUsageBreakdown } from './protocol/v2/TokenUsageBreakdown.js';
import type { ThreadStartResponse } from './protocol/v2/ThreadStartResponse.js';
import type { Turn } from './protocol/v2/Turn.js';
import type { TurnStartResponse } from './protocol/v2/TurnStartResponse.js';
import { ROLLOUT_START, type RolloutCursor } from './rollouts.js';
import { threadSettings } from './settings.js';
import type { CodexThreads } from './threads.js';

/** How long an interrupted turn may take to wind down before its thread's process is given up. */
const INTERRUPT_GRACE_MS = 5_000;

type Incoming = { kind: 'notification'; method: string; params: Record<string, unknown> } | { kind: 'exited'; reason: string };

/**
 * One Codex thread, run through an app-server process it may share with other threads: the
 * thread is started (or resumed from its rollout, written back from Tether's store if need be)
 * on the first turn and stays loaded for the next ones, until `close()` or a failed turn. Turns
 * run strictly one at a time.
 */
export class CodexRunner implements Runner {
  readonly #spec: RunnerSpec;
  readonly #threads: CodexThreads;
  readonly #env: NodeJS.ProcessEnv;
  readonly #tenant: string;
  #lease: HostLease | null = null;
  #threadId: string | null;
  /** The thread is loaded in the leased process. */
  #loaded = false;
  #rolloutPath: string | null = null;
  /** How much of the rollout is in the store already. */
  #mirrored: RolloutCursor = ROLLOUT_START;
  /** The thread's id is not in Tether's store yet: it goes there once Codex has written its rollout. */
  #unannounced = false;
  /** Set while the thread has yet to be resumed; used once. */
  #recap: (() => Promise<string>) | null;
  #settings: RunnerSettings;
  #model: string | null;
  #totals: TokenUsageBreakdown | null = null;
  #context = 0;
  #incoming: AsyncQueue<Incoming> | null = null;
  #hooks: TurnHooks | null = null;
  #turnSignal: AbortSignal | null = null;
  /** Paths of the patches of the running turn, by item: its approval requests name only the item. */
  readonly #patches = new Map<string, string[]>();
  #busy = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(spec: RunnerSpec, threads: CodexThreads) {
    this.#spec = spec;
    this.#threads = threads;
    this.#tenant = spec.tenant ?? 'default';
    this.#env = spec.env;
    this.#threadId = spec.resume;
    this.#recap = spec.resume !== null ? (spec.recap ?? null) : null;
    this.#settings = { model: spec.config.model ?? null, permissionMode: spec.config.permissionMode ?? null };
    this.#model = spec.config.model ?? null;
  }

  get pid(): number | null {
    return this.#lease?.server.pid ?? null;
  }

  get alive(): boolean {
    return !this.#closed && (this.#lease === null || this.#lease.server.alive);
  }

  get settings(): RunnerSettings {
    return this.#settings;
  }

  async *run(prompt: string, signal: AbortSignal, hooks: TurnHooks = {}): AsyncGenerator<AgentEvent> {
    if (this.#closed) throw new Error('runner is closed');
    if (this.#busy) throw new Error('runner is already running a turn');
    this.#busy = true;
    this.#hooks = hooks;
    this.#turnSignal = signal;
    const startedAt = Date.now();
    const compaction = prompt.trim() === COMPACT_PROMPT;
    let finished = false;
    let turnId: string | null = null;
    let interruptTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (turnId && this.#threadId) this.#lease?.server.request('turn/interrupt', { threadId: this.#threadId, turnId }).catch(() => undefined);
      // A thread that does not wind down in time is given up; the turn still ends `interrupted`.
      interruptTimer = setTimeout(() => void this.close(), INTERRUPT_GRACE_MS);
    };
    const normalizer = (): CodexTurnNormalizer =>
      new CodexTurnNormalizer({ model: this.#model, startedAt, totals: this.#totals, context: this.#context, manualCompaction: compaction });
    try {
      if (signal.aborted) {
        yield this.#failed(normalizer(), { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted before it started' });
        finished = true;
        return;
      }
      let text = prompt;
      try {
        const recovered = await this.#ensureThread();
        if (recovered) {
          yield recovered.event;
          text = withRecap(recovered.recap, prompt);
        }
      } catch (err) {
        await this.close();
        yield this.#failed(normalizer(), { code: ErrorCode.AGENT_FAILED, message: `codex could not open the thread: ${describe(err)}` });
        finished = true;
        return;
      }
      const turn = normalizer();
      const incoming = new AsyncQueue<Incoming>();
      this.#incoming = incoming;
      this.#patches.clear();
      signal.addEventListener('abort', onAbort, { once: true });
      const server = this.#lease!.server;
      const threadId = this.#threadId!;
      try {
        if (compaction) {
          await server.request('thread/compact/start', { threadId });
        } else {
          const input = [{ type: 'text', text, text_elements: [] }];
          const started = await server.request<TurnStartResponse>('turn/start', { threadId, input, ...(this.#settings.model ? { model: this.#settings.model } : {}) });
          turnId = started.turn.id;
        }
      } catch (err) {
        await this.close();
        yield this.#failed(turn, { code: ErrorCode.AGENT_FAILED, message: `codex refused the turn: ${describe(err)}` });
        finished = true;
        return;
      }
      if (signal.aborted) onAbort();
      let completed: Turn | null = null;
      let failure: TurnError | null = null;
      for await (const item of incoming) {
        if (item.kind === 'exited') {
          failure = signal.aborted ? { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' } : { code: ErrorCode.AGENT_FAILED, message: item.reason };
          break;
        }
        const { method, params } = item;
        // A compaction's turn is known by its first notification.
        if (turnId === null && method === 'turn/started') {
          turnId = (params.turn as Turn).id;
          if (signal.aborted) onAbort();
        }
        if (typeof params.turnId === 'string' && params.turnId !== turnId) continue;
        if (method === 'item/started') this.#notePatch(params);
        if (method === 'turn/completed') {
          const done = params.turn as Turn;
          if (done.id !== turnId) continue;
          completed = done;
          break;
        }
        for (const event of turn.accept(method, params)) yield event;
      }
      this.#totals = turn.totals;
      this.#context = turn.context.tokens;
      if (completed === null) {
        await this.close();
        yield this.#failed(turn, failure ?? { code: ErrorCode.AGENT_FAILED, message: 'the codex app-server ended the turn without completing it' });
        finished = true;
        return;
      }
      let result: AgentResult = turn.finish(completed, null);
      if (signal.aborted && !result.ok) result = { ...result, error: { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' } };
      const init = await this.#announce();
      if (init) yield init;
      yield { ...result, agentSessionId: this.#unannounced ? null : this.#threadId };
      finished = true;
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(interruptTimer);
      this.#incoming = null;
      this.#hooks = null;
      this.#turnSignal = null;
      this.#busy = false;
      // A consumer that walked away mid-turn leaves the thread in an unknown state: give it up.
      if (!finished) await this.close();
    }
  }

  /**
   * A model change needs no new process: each turn names the model it runs with. Another sandbox
   * or approval policy is the thread's, set when it is resumed: false, and the pool resumes it.
   */
  async reconfigure(change: RunnerSettings): Promise<boolean> {
    if (this.#closed || this.#busy || change.permissionMode !== this.#settings.permissionMode) return false;
    this.#settings = { ...this.#settings, model: change.model };
    if (change.model) this.#model = change.model;
    return true;
  }

  /** Releases the thread's process (ending it when no other thread uses it); resolves once done. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const lease = this.#lease;
      this.#lease = null;
      if (!lease) return;
      if (this.#threadId) lease.server.forget(this.#threadId);
      this.#incoming?.push({ kind: 'exited', reason: 'the runner was closed' });
      await lease.release();
    })();
    return this.#closing;
  }

  /** Leases a process and loads the thread in it: resumed, or new. A lost thread is replaced, once, by one that opens with a recap. */
  async #ensureThread(): Promise<{ event: AgentEvent; recap: string } | null> {
    if (this.#loaded && this.#lease?.server.alive) return null;
    if (this.#lease) {
      // The shared process died under an idle thread: start over on another.
      const dead = this.#lease;
      this.#lease = null;
      await dead.release();
    }
    await this.#threads.ready();
    this.#lease = await this.#threads.hosts.lease(this.#tenant, this.#env, this.#threads.overrides(this.#env), this.#threadId);
    const params = threadSettings(this.#spec.config, this.#settings);
    let recovered: { event: AgentEvent; recap: string } | null = null;
    if (this.#threadId !== null) {
      const previous = this.#threadId;
      const rollout = await this.#threads.rollouts.restore(previous, this.#lease.home);
      let resumed: ThreadStartResponse | null = null;
      if (rollout) {
        try {
          // By id: Codex finds the rollout where `restore` put it (resuming by path is experimental).
          resumed = await this.#lease.server.request<ThreadStartResponse>('thread/resume', { threadId: previous, ...params, excludeTurns: true });
          this.#mirrored = rollout.mirrored;
        } catch (err) {
          if (!this.#recap || !/no rollout|not found/i.test(describe(err))) throw err;
        }
      }
      if (resumed) {
        this.#opened(resumed);
      } else {
        if (!this.#recap) throw new Error(`thread ${previous} has no rollout here or in Tether's store`);
        const recap = await this.#recap().catch(() => '');
        this.#opened(await this.#lease.server.request<ThreadStartResponse>('thread/start', params));
        this.#unannounced = true;
        recovered = {
          event: { type: 'recovered', previousAgentSessionId: previous, agentSessionId: this.#threadId!, reason: 'its rollout is gone from the store and from disk' },
          recap,
        };
      }
    } else {
      this.#opened(await this.#lease.server.request<ThreadStartResponse>('thread/start', params));
      this.#unannounced = true;
    }
    this.#recap = null;
    return recovered;
  }

  #opened(response: ThreadStartResponse): void {
    this.#lease!.adopt(response.thread.id);
    this.#threadId = response.thread.id;
    this.#rolloutPath = response.thread.path;
    this.#model = response.model || this.#model;
    this.#loaded = true;
    this.#lease!.server.listen(response.thread.id, {
      notification: (method, params) => this.#incoming?.push({ kind: 'notification', method, params }),
      request: (method, params) => answerApproval(method, params, this.#hooks, this.#turnSignal ?? AbortSignal.abort(), (id) => this.#patches.get(id) ?? []),
      exited: (reason) => {
        this.#loaded = false;
        this.#incoming?.push({ kind: 'exited', reason });
      },
    });
  }

  /** Mirrors what the turn added to the rollout; the `init` that puts a new thread's id in the store, once its rollout exists. */
  async #announce(): Promise<AgentEvent | null> {
    if (!this.#rolloutPath || !this.#threadId) return null;
    this.#mirrored = await this.#threads.rollouts.sync(this.#threadId, this.#rolloutPath, this.#mirrored);
    // Codex writes a new thread's rollout with its first turn; until then there is nothing to resume.
    if (!this.#unannounced || !existsSync(this.#rolloutPath)) return null;
    this.#unannounced = false;
    return { type: 'init', agentSessionId: this.#threadId, model: this.#model };
  }

  #notePatch(params: Record<string, unknown>): void {
    const item = params.item as { type?: string; id?: string; changes?: Array<{ path: string }> } | undefined;
    if (item?.type === 'fileChange' && item.id) this.#patches.set(item.id, (item.changes ?? []).map((c) => c.path));
  }

  #failed(turn: CodexTurnNormalizer, error: TurnError): AgentResult {
    return { ...turn.finish(null, error), agentSessionId: this.#unannounced ? null : this.#threadId };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
