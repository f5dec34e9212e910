import { query, type Options, type Query, type SDKMessage, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import type { AgentEvent, AgentResult, Runner, RunnerSpec } from '../agent.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { ErrorCode } from '../../errors.js';
import { EMPTY_CONTEXT, ZERO_USAGE, type TurnError } from '../../domain/types.js';
import { ClaudeTurnNormalizer } from './normalize.js';

/** How long an interrupted turn may take to wind down before its process is ended. */
const INTERRUPT_GRACE_MS = 5_000;
const STDERR_TAIL_LINES = 20;

/**
 * One Claude Code conversation in one process, fed through the Agent SDK's streaming input:
 * the process starts on the first turn and takes each later turn without restarting, until
 * `close()`. Turns run strictly one at a time.
 */
export class ClaudeRunner implements Runner {
  readonly #spec: RunnerSpec;
  readonly #binary: string;
  #input: AsyncQueue<SDKUserMessage> | null = null;
  #query: Query | null = null;
  #messages: AsyncIterator<SDKMessage> | null = null;
  #agentSessionId: string | null;
  #model: string | null;
  /** Running total the SDK reported last; turn cost is the difference. */
  #costSoFar: number;
  #busy = false;
  #closed = false;
  #stderr: string[] = [];

  constructor(spec: RunnerSpec, binary: string) {
    this.#spec = spec;
    this.#binary = binary;
    this.#agentSessionId = spec.resume;
    this.#model = spec.config.model ?? null;
    this.#costSoFar = spec.priorCostUsd ?? 0;
  }

  get pid(): number | null {
    return null;
  }

  async *run(prompt: string, signal: AbortSignal): AsyncGenerator<AgentEvent> {
    if (this.#closed) throw new Error('runner is closed');
    if (this.#busy) throw new Error('runner is already running a turn');
    this.#busy = true;
    const startedAt = Date.now();
    const normalizer = new ClaudeTurnNormalizer({ model: this.#model, agentSessionId: this.#agentSessionId, startedAt });
    let finished = false;
    let interruptTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      void this.#query?.interrupt().catch(() => undefined);
      // An agent that does not wind down in time is ended; the turn still ends `interrupted`.
      interruptTimer = setTimeout(() => void this.close(), INTERRUPT_GRACE_MS);
    };
    try {
      if (signal.aborted) {
        yield this.#failed(normalizer, startedAt, { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted before it started' });
        finished = true;
        return;
      }
      this.#ensureStarted();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#input!.push({
        type: 'user',
        message: { role: 'user', content: prompt },
        parent_tool_use_id: null,
        session_id: this.#agentSessionId ?? '',
      });
      for (;;) {
        let next: IteratorResult<SDKMessage> | null;
        let crash: unknown = null;
        try {
          next = await this.#messages!.next();
        } catch (err) {
          next = null;
          crash = err;
        }
        if (next === null || next.done) {
          // The process ended (or the SDK threw) before this turn's result.
          const error = signal.aborted
            ? { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' }
            : { code: ErrorCode.AGENT_FAILED, message: this.#describeCrash(crash) };
          await this.close();
          yield this.#failed(normalizer, startedAt, error);
          finished = true;
          return;
        }
        const message = next.value;
        for (const event of normalizer.accept(message)) {
          if (event.type === 'init') {
            this.#agentSessionId = event.agentSessionId;
            this.#model = event.model;
          }
          yield event;
        }
        if (message.type === 'result') {
          const total = message.total_cost_usd ?? 0;
          // Running totals restart when a process cannot read the saved one; never go negative.
          const cost = total >= this.#costSoFar ? total - this.#costSoFar : total;
          this.#costSoFar = total;
          let result = normalizer.finish(message, roundCost(cost));
          if (signal.aborted && !result.ok) {
            result = { ...result, error: { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' } };
          }
          this.#agentSessionId = result.agentSessionId ?? this.#agentSessionId;
          yield result;
          finished = true;
          return;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(interruptTimer);
      this.#busy = false;
      // A consumer that walked away mid-turn leaves a process in an unknown state: end it.
      if (!finished) await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input?.end();
    try {
      this.#query?.close();
    } catch {
      // already gone
    }
    this.#query = null;
    this.#messages = null;
  }

  #ensureStarted(): void {
    if (this.#query) return;
    const { config, env, resume, newConversationId } = this.#spec;
    const options: Options = {
      cwd: config.cwd,
      env: { ...env },
      pathToClaudeCodeExecutable: this.#binary,
      includePartialMessages: true,
      stderr: (data: string) => {
        for (const line of data.split('\n')) if (line.trim()) this.#stderr.push(line);
        if (this.#stderr.length > STDERR_TAIL_LINES) this.#stderr.splice(0, this.#stderr.length - STDERR_TAIL_LINES);
      },
    };
    if (config.model) options.model = config.model;
    if (config.permissionMode) options.permissionMode = config.permissionMode;
    if (config.permissionMode === 'bypassPermissions') options.allowDangerouslySkipPermissions = true;
    if (config.appendSystemPrompt) options.systemPrompt = { type: 'preset', preset: 'claude_code', append: config.appendSystemPrompt };
    if (config.maxTurns) options.maxTurns = config.maxTurns;
    if (config.allowedTools) options.allowedTools = config.allowedTools;
    if (config.disallowedTools) options.disallowedTools = config.disallowedTools;
    if (resume) options.resume = resume;
    else if (newConversationId) options.sessionId = newConversationId;

    this.#input = new AsyncQueue<SDKUserMessage>();
    this.#query = query({ prompt: this.#input, options });
    this.#messages = this.#query[Symbol.asyncIterator]();
  }

  #describeCrash(err: unknown): string {
    const reason = err instanceof Error ? err.message : 'the agent process ended before the turn finished';
    const tail = this.#stderr.slice(-3).join(' | ');
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

function roundCost(cost: number): number {
  return Math.round(cost * 1e6) / 1e6;
}
