import type { AgentEvent, AgentResult } from '../agent.js';
import { ErrorCode } from '../../errors.js';
import { fallbackContextWindow } from '../../domain/usage.js';
import { EMPTY_CONTEXT, ZERO_USAGE, type ContextInfo, type TurnError, type Usage } from '../../domain/types.js';
import type { CommandAction } from './protocol/v2/CommandAction.js';
import type { ThreadItem } from './protocol/v2/ThreadItem.js';
import type { ThreadTokenUsage } from './protocol/v2/ThreadTokenUsage.js';
import type { TokenUsageBreakdown } from './protocol/v2/TokenUsageBreakdown.js';
import type { Turn } from './protocol/v2/Turn.js';
import type { TurnError as CodexTurnError } from './protocol/v2/TurnError.js';
import type { RateLimitSnapshot } from './protocol/v2/RateLimitSnapshot.js';

/**
 * Turns the app-server's notifications for one Codex turn into TetherEvents-to-be, and keeps
 * what the result needs: the thread's token totals before and after (a turn's usage is their
 * difference), the last call's size (the context), the reply, and the error if any.
 */
export class CodexTurnNormalizer {
  readonly #startedAt: number;
  readonly #model: string | null;
  /** The thread's totals when the turn began; unknown until the first usage report of a new process. */
  #before: TokenUsageBreakdown | null;
  #usage: ThreadTokenUsage | null = null;
  #texts: string[] = [];
  #error: CodexTurnError | null = null;
  /**
   * What Codex said while it retried (`willRetry`): it names the fault (a dropped stream) that
   * its final error, once the retries are spent, reports only as `other`.
   */
  #retried: CodexTurnError | null = null;
  /** Context before a compaction began, for the `compacted` event. */
  #preCompaction = 0;
  /** When the account's usage limit resets (epoch ms), if the app-server said. */
  #limitResetsAt: number | null = null;

  constructor(options: { model: string | null; startedAt: number; totals: TokenUsageBreakdown | null; context: number; manualCompaction: boolean }) {
    this.#model = options.model;
    this.#startedAt = options.startedAt;
    this.#before = options.totals;
    this.#preCompaction = options.context;
    this.trigger = options.manualCompaction ? 'manual' : 'auto';
  }

  /** What asked for a compaction in this turn: Tether (`manual`) or Codex itself (`auto`). */
  readonly trigger: 'manual' | 'auto';

  /** The thread's totals after the turn (the next turn's `totals`). */
  get totals(): TokenUsageBreakdown | null {
    return this.#usage?.total ?? this.#before;
  }

  accept(method: string, params: Record<string, unknown>): AgentEvent[] {
    switch (method) {
      case 'item/agentMessage/delta':
        return typeof params.delta === 'string' && params.delta ? [{ type: 'text.delta', text: params.delta }] : [];
      case 'item/started':
        return this.#started(params.item as ThreadItem);
      case 'item/completed':
        return this.#completed(params.item as ThreadItem);
      case 'thread/tokenUsage/updated': {
        const usage = params.tokenUsage as ThreadTokenUsage;
        // A process that resumed the thread reports its running totals from the rollout: the
        // turn's first call is what they grew by.
        this.#before ??= minus(usage.total, usage.last);
        this.#usage = usage;
        return [];
      }
      case 'error':
        if (params.willRetry === true) this.#retried = params.error as CodexTurnError;
        else this.#error = params.error as CodexTurnError;
        return [];
      case 'account/rateLimits/updated':
        this.#limitResetsAt = resetOf(params.rateLimits as RateLimitSnapshot) ?? this.#limitResetsAt;
        return [];
      default:
        return [];
    }
  }

  /** The turn's result from its `turn/completed` (or its failure, when `turn` is null). */
  finish(turn: Turn | null, failure: TurnError | null): AgentResult {
    const ok = failure === null && turn?.status === 'completed';
    let reported = this.#error ?? turn?.error ?? null;
    if (reported && infoName(reported) === 'other' && this.#retried) reported = { ...reported, codexErrorInfo: this.#retried.codexErrorInfo };
    const error = failure ?? (ok ? null : errorOf(turn!, reported, this.#limitResetsAt));
    const retryAt = error?.code === ErrorCode.AGENT_UNAVAILABLE && isUsageLimit(reported) && this.#limitResetsAt ? this.#limitResetsAt : undefined;
    return {
      type: 'result',
      ok,
      text: ok ? this.#texts.join('\n\n') : '',
      usage: this.#turnUsage(),
      context: this.context,
      agentSessionId: null,
      durationMs: turn?.durationMs ?? Date.now() - this.#startedAt,
      error,
      ...(retryAt !== undefined ? { retryAt } : {}),
    };
  }

  /** Context after the turn: the last call's tokens, as Codex counts them against the window. */
  get context(): ContextInfo {
    if (!this.#usage) return { ...EMPTY_CONTEXT };
    const window = this.#usage.modelContextWindow ?? fallbackContextWindow(this.#model ?? undefined);
    const tokens = this.#usage.last.totalTokens;
    return { tokens, window, ratio: window > 0 ? Math.round((tokens / window) * 1e4) / 1e4 : 0 };
  }

  #turnUsage(): Usage {
    if (!this.#usage) return { ...ZERO_USAGE };
    const grown = this.#before ? minus(this.#usage.total, this.#before) : this.#usage.last;
    // OpenAI's input tokens include the cached ones; Tether's, as Anthropic's, do not.
    return {
      inputTokens: Math.max(0, grown.inputTokens - grown.cachedInputTokens),
      outputTokens: grown.outputTokens,
      cacheReadTokens: grown.cachedInputTokens,
      cacheWriteTokens: grown.cacheWriteInputTokens,
      costUsd: 0,
    };
  }

  #started(item: ThreadItem): AgentEvent[] {
    switch (item.type) {
      case 'commandExecution':
        return [{ type: 'tool.use', toolUseId: item.id, name: 'Bash', input: { command: commandOf(item.command, item.commandActions), cwd: item.cwd } }];
      case 'fileChange':
        return [{ type: 'tool.use', toolUseId: item.id, name: 'Edit', input: { changes: item.changes } }];
      case 'mcpToolCall':
        return [{ type: 'tool.use', toolUseId: item.id, name: `mcp__${item.server}__${item.tool}`, input: item.arguments }];
      case 'contextCompaction':
        return [];
      default:
        return [];
    }
  }

  #completed(item: ThreadItem): AgentEvent[] {
    switch (item.type) {
      case 'agentMessage':
        if (!item.text) return [];
        this.#texts.push(item.text);
        return [{ type: 'message', text: item.text }];
      case 'commandExecution':
        return [{ type: 'tool.result', toolUseId: item.id, content: item.aggregatedOutput ?? '', isError: item.status !== 'completed' || (item.exitCode ?? 0) !== 0 }];
      case 'fileChange':
        return [{ type: 'tool.result', toolUseId: item.id, content: item.changes.map((c) => c.path).join('\n'), isError: item.status !== 'completed' }];
      case 'mcpToolCall':
        return [{ type: 'tool.result', toolUseId: item.id, content: item.error ? item.error.message : JSON.stringify(item.result?.content ?? null), isError: item.error !== null }];
      case 'contextCompaction': {
        const post = this.#usage?.last.totalTokens ?? 0;
        return [{ type: 'compacted', trigger: this.trigger, preTokens: this.#preCompaction, postTokens: post }];
      }
      default:
        return [];
    }
  }
}

/**
 * The command as the model wrote it. Codex runs each one through a login shell
 * (`/bin/bash -lc '…'`); its parsed actions carry the command itself, which is what a person
 * reads and what a rule like `Bash(npm test:*)` is about.
 */
export function commandOf(shellCommand: string, actions: CommandAction[] | null): string {
  const commands = (actions ?? []).map((a) => a.command).filter(Boolean);
  return commands.length > 0 ? commands.join(' && ') : shellCommand;
}

function minus(a: TokenUsageBreakdown, b: TokenUsageBreakdown): TokenUsageBreakdown {
  return {
    totalTokens: Math.max(0, a.totalTokens - b.totalTokens),
    inputTokens: Math.max(0, a.inputTokens - b.inputTokens),
    cachedInputTokens: Math.max(0, a.cachedInputTokens - b.cachedInputTokens),
    cacheWriteInputTokens: Math.max(0, a.cacheWriteInputTokens - b.cacheWriteInputTokens),
    outputTokens: Math.max(0, a.outputTokens - b.outputTokens),
    reasoningOutputTokens: Math.max(0, a.reasoningOutputTokens - b.reasoningOutputTokens),
  };
}

/** When the first exhausted window of the account resets (epoch ms), or null. */
function resetOf(limits: RateLimitSnapshot): number | null {
  for (const window of [limits.primary, limits.secondary]) {
    if (window && window.usedPercent >= 100 && window.resetsAt) return window.resetsAt * 1000;
  }
  return null;
}

function infoName(error: CodexTurnError | null): string {
  const info = error?.codexErrorInfo;
  if (!info) return 'other';
  return typeof info === 'string' ? info : (Object.keys(info)[0] ?? 'other');
}

function isUsageLimit(error: CodexTurnError | null): boolean {
  return infoName(error) === 'usageLimitExceeded';
}

/** Codex errors that may pass (quota, overload, the network): try again later. */
const UNAVAILABLE = new Set([
  'usageLimitExceeded',
  'rateLimitExceeded',
  'serverOverloaded',
  'internalServerError',
  'unauthorized',
  'httpConnectionFailed',
  'responseStreamConnectionFailed',
  'responseStreamDisconnected',
  'responseTooManyFailedAttempts',
  'policyCapacityUnavailable',
  'flexUnavailable',
]);

/**
 * What went wrong, as a code a caller can act on (the same split as Claude's): trouble with the
 * API that may pass is AGENT_UNAVAILABLE; the agent's own failure (a conversation too long for
 * the model, a refused request) is AGENT_FAILED. Codex retried transient errors itself.
 */
function errorOf(turn: Turn, error: CodexTurnError | null, limitResetsAt: number | null): TurnError {
  if (turn.status === 'interrupted') return { code: ErrorCode.INTERRUPTED, message: 'the turn was interrupted' };
  const name = infoName(error);
  const detail = error?.message || 'no detail';
  if (name === 'contextWindowExceeded') {
    return { code: ErrorCode.AGENT_FAILED, message: `the conversation no longer fits the model's context window; reset the session to start a new one (${detail})` };
  }
  if (name === 'usageLimitExceeded') {
    const when = limitResetsAt ? `; it resets at ${new Date(limitResetsAt).toISOString()}, and turns queued meanwhile wait for it` : '; try again later';
    return { code: ErrorCode.AGENT_UNAVAILABLE, message: `the account's usage limit was reached${when} (${detail})` };
  }
  if (UNAVAILABLE.has(name)) return { code: ErrorCode.AGENT_UNAVAILABLE, message: `the model API failed (${name}): ${detail}` };
  return { code: ErrorCode.AGENT_FAILED, message: `the agent failed: ${detail}` };
}
