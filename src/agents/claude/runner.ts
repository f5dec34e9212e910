import { randomUUID } from 'node:crypto';
import type { CanUseTool, Query, SDKMessage, SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import type { AgentEvent, AgentResult, Runner, RunnerSettings, RunnerSpec, TurnHooks } from '../agent.js';
import { permissionsFor } from './permissions.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { ErrorCode } from '../../errors.js';
import { EMPTY_CONTEXT, ZERO_USAGE, type TurnError } from '../../domain/types.js';
import { withRecap } from '../../domain/recap.js';
import { ClaudeTurnNormalizer } from './normalize.js';
import type { ProcessWatch } from './spawn.js';
import type { ClaudeStart, RunnerRecovery } from './start.js';
import { isConversationMissing } from './transcripts.js';

/** How long an interrupted turn may take to wind down before its process is ended. */
const INTERRUPT_GRACE_MS = 5_000;
/** How long a process may take to confirm a new model or permission mode; past it, it is replaced. */
const RECONFIGURE_TIMEOUT_MS = 10_000;
/** How long a woken process may take to come up (a cold start takes 1–3 s; a loaded machine more). */
const WARM_TIMEOUT_MS = 60_000;

/**
 * One Claude Code conversation in one process, fed through the Agent SDK's streaming input:
 * the process starts on the first turn and takes each later turn without restarting, until
 * `close()` or until a turn fails (a failed turn can leave the SDK's query unusable, so the
 * runner then ends itself and the next turn resumes cold). Turns run strictly one at a time.
 */
export class ClaudeRunner implements Runner {
  #start: ClaudeStart;
  /** Used when a spare refuses its claim: the same conversation, started normally. */
  readonly #fallback: ClaudeStart | null;
  /**
   * Ends the process a claimed spare holds, for as long as the runner has not started on it: until
   * then only the spare knows that process, and a runner closed before its first turn (the turn
   * was interrupted meanwhile) must not leave it running.
   */
  #discard: (() => Promise<void>) | null;
  /** Set while the runner has yet to resume its conversation; used once. */
  #recovery: RunnerRecovery | null;
  /** A lost conversation `warm` replaced: the next turn reports it and opens with the recap. */
  #recovered: { event: AgentEvent; recap: string } | null = null;
  #input: AsyncQueue<SDKUserMessage> | null = null;
  #query: Query | null = null;
  #watch: ProcessWatch | null = null;
  #claimRefused = false;
  #messages: AsyncIterator<SDKMessage> | null = null;
  #agentSessionId: string | null;
  /** The model the agent reported (or was switched to): sizes the context window. */
  #model: string | null;
  /** What the process runs with, or will start with: the spec's, until `reconfigure`. */
  #settings: RunnerSettings;
  /** Running total the SDK reported last; a turn's cost is the difference. */
  #costSoFar: number;
  #turnsDone = 0;
  /**
   * Answers the agent's permission prompts (sessions with approvals), for the life of the
   * process: it asks the running turn's hooks, and refuses between turns.
   */
  readonly #canUseTool: CanUseTool | null;
  /** The running turn's hooks. */
  #hooks: TurnHooks | null = null;
  #busy = false;
  #closed = false;
  /** The first close(): every later call waits for the same exit. */
  #closing: Promise<void> | null = null;

  constructor(
    spec: RunnerSpec,
    start: ClaudeStart,
    fallback: ClaudeStart | null = null,
    recovery: RunnerRecovery | null = null,
    discard: (() => Promise<void>) | null = null,
  ) {
    this.#start = start;
    this.#fallback = fallback;
    this.#discard = discard;
    this.#recovery = spec.resume !== null ? recovery : null;
    this.#agentSessionId = spec.resume;
    this.#model = spec.config.model ?? null;
    this.#settings = { model: spec.config.model ?? null, permissionMode: spec.config.permissionMode ?? null };
    this.#costSoFar = spec.priorCostUsd ?? 0;
    this.#canUseTool = spec.config.approvals === 'ask' ? permissionsFor(() => this.#hooks) : null;
  }

  get pid(): number | null {
    return this.#watch?.pid ?? null;
  }

  get settings(): RunnerSettings {
    return this.#settings;
  }

  get alive(): boolean {
    return !this.#closed && (this.#watch === null || this.#watch.alive);
  }

  async *run(prompt: string, signal: AbortSignal, hooks: TurnHooks = {}): AsyncGenerator<AgentEvent> {
    if (this.#closed) throw new Error('runner is closed');
    if (this.#busy) throw new Error('runner is already running a turn');
    this.#busy = true;
    this.#hooks = hooks;
    const startedAt = Date.now();
    const normalizer = new ClaudeTurnNormalizer({ model: this.#model, agentSessionId: this.#agentSessionId, startedAt });
    let finished = false;
    let interruptTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      void this.#query?.interrupt().catch(() => undefined);
      // An agent that does not wind down in time is ended; the turn still ends `interrupted`.
      interruptTimer = setTimeout(() => void this.close(), INTERRUPT_GRACE_MS);
    };
    const userMessage = (text: string): SDKUserMessage => ({
      type: 'user' as const,
      message: { role: 'user' as const, content: text },
      parent_tool_use_id: null,
      session_id: this.#agentSessionId ?? '',
    });
    let message = userMessage(prompt);
    try {
      if (signal.aborted) {
        yield this.#failed(normalizer, startedAt, { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted before it started' });
        finished = true;
        return;
      }
      const recovered = this.#recovered ?? (this.#query === null ? await this.#recoverIfGone() : null);
      this.#recovered = null;
      if (recovered) {
        yield recovered.event;
        message = userMessage(withRecap(recovered.recap, prompt));
      }
      this.#ensureStarted(this.#start);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#input!.push(message);
      let sawOutput = false;
      for (;;) {
        let next: IteratorResult<SDKMessage> | null;
        let crash: unknown = null;
        try {
          next = await this.#messages!.next();
        } catch (err) {
          next = null;
          crash = err;
        }
        const ended = next === null || next.done === true;
        const refusedClaim =
          this.#fallback !== null && this.#turnsDone === 0 && !sawOutput && (this.#claimRefused || (!ended && isNotClaimed(next!.value)));
        if (refusedClaim && !signal.aborted) {
          // The spare would not take this conversation: start it normally, same prompt.
          await this.#stopProcess();
          this.#claimRefused = false;
          this.#ensureStarted(this.#fallback!);
          this.#input!.push(message);
          continue;
        }
        const lost =
          this.#recovery !== null &&
          !sawOutput &&
          !signal.aborted &&
          (ended ? crash !== null && isConversationMissing(String(crash)) : isMissingResult(next!.value));
        if (lost) {
          // Found gone only by Claude Code itself (say, its project directory moved): recover now.
          await this.#stopProcess();
          const recovered = await this.#recover('the agent could not find it');
          yield recovered.event;
          message = userMessage(withRecap(recovered.recap, prompt));
          this.#ensureStarted(this.#start);
          this.#input!.push(message);
          continue;
        }
        if (ended) {
          const error = signal.aborted
            ? { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' }
            : { code: ErrorCode.AGENT_FAILED, message: this.#describeCrash(crash) };
          await this.close();
          yield this.#failed(normalizer, startedAt, error);
          finished = true;
          return;
        }
        const sdkMessage = next!.value;
        // The first output settles the conversation: no recovery after it.
        if (sdkMessage.type === 'assistant' || sdkMessage.type === 'stream_event') this.#recovery = null;
        for (const event of normalizer.accept(sdkMessage)) {
          if (event.type === 'init') {
            this.#agentSessionId = event.agentSessionId;
            this.#model = event.model;
          } else {
            sawOutput = true;
          }
          yield event;
        }
        if (sdkMessage.type === 'result') {
          const total = sdkMessage.total_cost_usd ?? 0;
          // Running totals restart when a process cannot read the saved one; never go negative.
          const cost = total >= this.#costSoFar ? total - this.#costSoFar : total;
          this.#costSoFar = total;
          let result = normalizer.finish(sdkMessage, Math.round(cost * 1e6) / 1e6);
          if (signal.aborted && !result.ok) {
            result = { ...result, error: { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' } };
          }
          this.#agentSessionId = result.agentSessionId ?? this.#agentSessionId;
          this.#turnsDone++;
          // After an error result the SDK's query may throw on the next read: do not reuse it.
          if (!result.ok) await this.close();
          yield result;
          finished = true;
          return;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(interruptTimer);
      this.#hooks = null;
      this.#busy = false;
      // A consumer that walked away mid-turn leaves a process in an unknown state: end it.
      if (!finished) await this.close();
    }
  }

  /**
   * Starts the process now, as a first turn would (a conversation found gone is replaced first,
   * and reported by that turn), and resolves once it has answered the SDK's initialize request.
   */
  async warm(): Promise<void> {
    if (this.#closed) throw new Error('runner is closed');
    if (this.#busy) throw new Error('runner is already running a turn');
    if (this.#query) return;
    // Busy until it is up: no turn may start on a half-started process.
    this.#busy = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      this.#recovered = await this.#recoverIfGone();
      this.#ensureStarted(this.#start);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the agent process did not come up within ${WARM_TIMEOUT_MS / 1000} s`)), WARM_TIMEOUT_MS);
      });
      await Promise.race([this.#query!.initializationResult(), timeout]);
    } catch (err) {
      const reason = this.#describeCrash(err);
      await this.close();
      throw new Error(reason, { cause: err });
    } finally {
      clearTimeout(timer);
      this.#busy = false;
    }
  }

  /**
   * Before a cold resume, the conversation is checked (Claude Code would only answer "No
   * conversation found"); one gone is replaced now. Null when it is there, or no check applies.
   */
  async #recoverIfGone(): Promise<{ event: AgentEvent; recap: string } | null> {
    if (!this.#recovery || this.#agentSessionId === null) return null;
    const resumable = await this.#recovery.canResume(this.#agentSessionId).catch(() => true);
    return resumable ? null : this.#recover('its transcript is gone from the store and from disk');
  }

  /** Replaces the lost conversation by a new one (next start), once. */
  async #recover(reason: string): Promise<{ event: AgentEvent; recap: string }> {
    const recovery = this.#recovery!;
    this.#recovery = null;
    const previous = this.#agentSessionId!;
    const recap = await recovery.recap().catch(() => '');
    const id = randomUUID();
    this.#start = recovery.restart(id);
    this.#agentSessionId = id;
    // A new process starts its running cost total from zero.
    this.#costSoFar = 0;
    return { event: { type: 'recovered', previousAgentSessionId: previous, agentSessionId: id, reason }, recap };
  }

  /**
   * Switches the running process between turns with the SDK's control requests (streaming input
   * only, which is how the runner feeds it). Before the first turn there is no process to switch:
   * false, and the caller opens a runner with the new settings instead.
   */
  async reconfigure(change: RunnerSettings): Promise<boolean> {
    const query = this.#query;
    if (this.#closed || this.#busy || query === null || !this.alive) return false;
    // Busy while the requests are in flight: no turn may start half switched.
    this.#busy = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the agent did not confirm the new settings in time')), RECONFIGURE_TIMEOUT_MS);
    });
    try {
      // Permission mode first: it is the one a process may refuse (bypassPermissions when it was
      // not started allowing it), and then nothing has changed yet.
      if (change.permissionMode !== this.#settings.permissionMode) {
        await Promise.race([query.setPermissionMode(change.permissionMode ?? 'default'), timeout]);
        this.#settings = { ...this.#settings, permissionMode: change.permissionMode };
      }
      if (change.model !== this.#settings.model) {
        await Promise.race([query.setModel(change.model ?? undefined), timeout]);
        this.#settings = { ...this.#settings, model: change.model };
        this.#model = change.model;
      }
      return this.#query === query && this.alive;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.#busy = false;
    }
  }

  /**
   * Resolves once the process has exited, for every caller: the pool frees the runner's slot
   * then, so a second close (the pool retiring a runner its interrupted turn is still closing)
   * returning early would let one more process start than `maxLive` allows.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#discard ? this.#discard() : this.#stopProcess();
    return this.#closing;
  }

  #ensureStarted(start: ClaudeStart): void {
    if (this.#query) return;
    // A process started after close() would run outside the pool's count.
    if (this.#closed) throw new Error('runner is closed');
    this.#discard = null;
    this.#input = new AsyncQueue<SDKUserMessage>();
    const started = start(this.#input, this.#settings, this.#canUseTool);
    this.#query = started.query;
    this.#watch = started.watch;
    started.claimed?.catch((err: unknown) => {
      // `option_not_applied` means the session runs anyway (without that model option).
      if (!(err instanceof Error && err.message.startsWith('option_not_applied'))) this.#claimRefused = true;
    });
    this.#messages = this.#query[Symbol.asyncIterator]();
  }

  async #stopProcess(): Promise<void> {
    this.#input?.end();
    try {
      this.#query?.close();
    } catch {
      // already gone
    }
    const watch = this.#watch;
    this.#query = null;
    this.#messages = null;
    this.#input = null;
    // close() asks the SDK to end the process; wait until it has, killing it if it lingers.
    await watch?.kill();
  }

  #describeCrash(err: unknown): string {
    const watch = this.#watch;
    const reason = err instanceof Error ? err.message : (watch?.describeExit() ?? 'the agent process ended before the turn finished');
    const tail = (watch?.stderr ?? []).slice(-3).join(' | ');
    // The SDK often quotes stderr in its own message already.
    return tail && !reason.includes(tail.slice(0, 80)) ? `${reason} (stderr: ${tail})` : reason;
  }

  #failed(normalizer: ClaudeTurnNormalizer, startedAt: number, error: TurnError): AgentResult {
    return {
      type: 'result',
      ok: false,
      text: '',
      usage: { ...ZERO_USAGE },
      context: { ...EMPTY_CONTEXT },
      agentSessionId: normalizer.agentSessionId,
      durationMs: Date.now() - startedAt,
      error,
    };
  }
}

/** The error result of a resume whose conversation Claude Code cannot find. */
function isMissingResult(message: SDKMessage): boolean {
  if (message.type !== 'result' || !message.is_error) return false;
  const text = message.subtype === 'success' ? message.result : message.errors.join('; ');
  return isConversationMissing(text);
}

/** The error result a spare gives a prompt it would not take. */
function isNotClaimed(message: SDKMessage): boolean {
  return message.type === 'result' && message.is_error && message.subtype === 'success' && message.result.startsWith('not_claimed');
}
