import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import type { AgentEvent, AgentResult } from '../agent.js';
import { ErrorCode } from '../../errors.js';
import { contextOf, fallbackContextWindow } from '../../domain/usage.js';
import type { TurnError, Usage } from '../../domain/types.js';

interface CallUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/**
 * Turns the Agent SDK's messages for one turn into TetherEvents-to-be. Keeps what the result
 * needs: the last main-loop API call's input (the context) and the model that served it.
 * Subagent traffic (parent_tool_use_id set) is left out of the stream and of the context.
 */
export class ClaudeTurnNormalizer {
  #lastCall: CallUsage | null = null;
  #model: string | null;
  #agentSessionId: string | null;
  readonly #startedAt: number;
  /** The account's usage limit as last reported: rejected until this time (epoch ms). */
  #limit: { resetsAt: number; type: string } | null = null;

  constructor(options: { model: string | null; agentSessionId: string | null; startedAt: number }) {
    this.#model = options.model;
    this.#agentSessionId = options.agentSessionId;
    this.#startedAt = options.startedAt;
  }

  get agentSessionId(): string | null {
    return this.#agentSessionId;
  }

  accept(message: SDKMessage): AgentEvent[] {
    switch (message.type) {
      case 'system':
        if (message.subtype === 'init') {
          this.#agentSessionId = message.session_id;
          this.#model = message.model ?? this.#model;
          return [{ type: 'init', agentSessionId: message.session_id, model: this.#model }];
        }
        if (message.subtype === 'compact_boundary') {
          const meta = message.compact_metadata;
          const post = meta.post_tokens ?? 0;
          // What the next call starts from is the compacted conversation, not the summarizing call's input.
          this.#lastCall = { inputTokens: post, cacheReadTokens: 0, cacheWriteTokens: 0 };
          return [{ type: 'compacted', trigger: meta.trigger, preTokens: meta.pre_tokens, postTokens: post }];
        }
        return [];
      case 'rate_limit_event': {
        const info = message.rate_limit_info;
        this.#limit = info.status === 'rejected' && info.resetsAt ? { resetsAt: info.resetsAt * 1000, type: info.rateLimitType ?? 'usage' } : null;
        return [];
      }
      case 'stream_event': {
        if (message.parent_tool_use_id !== null) return [];
        const event = message.event;
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && event.delta.text) {
          return [{ type: 'text.delta', text: event.delta.text }];
        }
        return [];
      }
      case 'assistant': {
        if (message.parent_tool_use_id !== null) return [];
        const usage = message.message.usage;
        if (usage) {
          this.#lastCall = {
            inputTokens: usage.input_tokens ?? 0,
            cacheReadTokens: usage.cache_read_input_tokens ?? 0,
            cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
          };
        }
        if (message.message.model) this.#model = message.message.model;
        const events: AgentEvent[] = [];
        for (const block of message.message.content) {
          if (block.type === 'text' && block.text) events.push({ type: 'message', text: block.text });
          else if (block.type === 'tool_use') events.push({ type: 'tool.use', toolUseId: block.id, name: block.name, input: block.input });
        }
        return events;
      }
      case 'user': {
        if (message.parent_tool_use_id !== null) return [];
        const content = message.message.content;
        if (typeof content === 'string') return [];
        const events: AgentEvent[] = [];
        for (const block of content) {
          if (block.type === 'tool_result') {
            events.push({ type: 'tool.result', toolUseId: block.tool_use_id, content: toolResultText(block.content), isError: block.is_error === true });
          }
        }
        return events;
      }
      default:
        return [];
    }
  }

  /** The turn's result from the SDK's result message; `usage.costUsd` is filled by the runner. */
  finish(result: SDKResultMessage, costUsd: number): AgentResult {
    this.#agentSessionId = result.session_id || this.#agentSessionId;
    const modelUsage = this.#model ? result.modelUsage[this.#model] : undefined;
    const window = modelUsage?.contextWindow || largestWindow(result) || fallbackContextWindow(this.#model ?? undefined);
    const usage: Usage = {
      inputTokens: result.usage.input_tokens ?? 0,
      outputTokens: result.usage.output_tokens ?? 0,
      cacheReadTokens: result.usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: result.usage.cache_creation_input_tokens ?? 0,
      costUsd,
    };
    const context = contextOf(this.#lastCall ?? { inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, window);
    const ok = result.subtype === 'success' && !result.is_error;
    if (!ok && this.#limit) {
      const at = new Date(this.#limit.resetsAt).toISOString();
      return {
        type: 'result',
        ok,
        text: '',
        usage,
        context,
        agentSessionId: this.#agentSessionId,
        durationMs: result.duration_ms ?? Date.now() - this.#startedAt,
        error: {
          code: ErrorCode.AGENT_UNAVAILABLE,
          message: `the account's ${this.#limit.type.replace(/_/g, '-')} usage limit was reached; it resets at ${at}, and turns queued meanwhile wait for it`,
        },
        retryAt: this.#limit.resetsAt,
      };
    }
    return {
      type: 'result',
      ok,
      text: result.subtype === 'success' && ok ? result.result : '',
      usage,
      context,
      agentSessionId: this.#agentSessionId,
      durationMs: result.duration_ms ?? Date.now() - this.#startedAt,
      error: ok ? null : resultError(result),
    };
  }
}

function largestWindow(result: SDKResultMessage): number {
  let max = 0;
  for (const entry of Object.values(result.modelUsage ?? {})) max = Math.max(max, entry.contextWindow ?? 0);
  return max;
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) => (part.type === 'text' ? (part.text ?? '') : `[${part.type ?? 'content'}]`))
      .join('');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/**
 * What went wrong, as a code a caller can act on: API trouble that may pass (overload, rate
 * limit, 5xx, a dropped connection, auth, a usage limit) is AGENT_UNAVAILABLE — try again later;
 * the agent's own failure (max turns, a refused request, a conversation too long) is
 * AGENT_FAILED. The agent already retried transient API errors itself (CLAUDE_CODE_MAX_RETRIES,
 * default 10), so Tether does not retry them again.
 */
export function resultError(result: SDKResultMessage): TurnError {
  const status = result.subtype === 'success' ? (result.api_error_status ?? null) : null;
  const detail = result.subtype === 'success' ? result.result : (result.errors ?? []).join('; ');
  const reason = result.terminal_reason;
  if (result.subtype === 'error_max_turns') {
    return { code: ErrorCode.AGENT_FAILED, message: `the agent stopped after reaching maxTurns (${result.num_turns} turns); raise maxTurns or split the task` };
  }
  if (result.subtype === 'error_max_budget_usd') {
    return { code: ErrorCode.AGENT_FAILED, message: 'the agent stopped after reaching its cost budget' };
  }
  if (reason === 'prompt_too_long') {
    return { code: ErrorCode.AGENT_FAILED, message: `the conversation no longer fits the model's context window; reset the session to start a new one (${detail || 'prompt too long'})` };
  }
  if (reason === 'blocking_limit' || reason === 'rapid_refill_breaker') {
    return { code: ErrorCode.AGENT_UNAVAILABLE, message: `the account's usage limit was reached; try again later (${detail || reason})` };
  }
  if (status !== null && (status === 429 || status === 529 || status >= 500 || status === 401 || status === 403)) {
    return { code: ErrorCode.AGENT_UNAVAILABLE, message: `the model API answered ${status}: ${detail || 'no detail'}` };
  }
  if (reason === 'api_error' && (status === null || status === 408)) {
    return { code: ErrorCode.AGENT_UNAVAILABLE, message: `the model API could not be reached: ${detail || 'connection failed'}` };
  }
  return { code: ErrorCode.AGENT_FAILED, message: detail ? `the agent failed: ${detail}` : 'the agent failed without a message' };
}
