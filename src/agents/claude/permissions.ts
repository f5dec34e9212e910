import type { CanUseTool, PermissionResult, PermissionUpdate } from '@anthropic-ai/claude-agent-sdk';
import type { PermissionAsk, TurnHooks } from '../agent.js';

/** Claude Code's tool for asking the user questions: an approval whose decision carries the answers. */
const QUESTION_TOOL = 'AskUserQuestion';

/**
 * The `canUseTool` of a process whose session asks a person about tool calls: Claude Code calls
 * it for every call it would prompt for, and it asks the running turn (`current()`), whose answer
 * goes back as the SDK's permission result. Between turns nothing can answer: refused.
 */
export function permissionsFor(current: () => TurnHooks | null): CanUseTool {
  return async (tool, input, options): Promise<PermissionResult> => {
    const toolUseID = options.toolUseID;
    const hooks = current();
    if (!hooks?.ask) return { behavior: 'deny', message: 'No turn is running to ask a person about this tool call.', toolUseID };
    const suggestions = options.suggestions ?? [];
    const ask: PermissionAsk = {
      kind: tool === QUESTION_TOOL ? 'question' : 'tool',
      toolUseId: toolUseID,
      tool,
      input,
      title: titleOf(tool, options),
      suggestions,
      signal: options.signal,
    };
    try {
      const answer = await hooks.ask(ask);
      if (answer.behavior === 'deny') return { behavior: 'deny', message: answer.message, toolUseID, ...(answer.interrupt ? { interrupt: true } : {}) };
      return {
        behavior: 'allow',
        updatedInput: answer.input ?? input,
        toolUseID,
        ...(answer.remember && suggestions.length > 0 ? { updatedPermissions: forThisSession(suggestions) } : {}),
      };
    } catch (err) {
      // Fail closed: a call nobody could decide does not run.
      return { behavior: 'deny', message: `The tool call could not be put to a person: ${err instanceof Error ? err.message : String(err)}`, toolUseID };
    }
  };
}

/** The sentence Claude Code would prompt with, or one made of what it gave: "Write file: notes.txt". */
function titleOf(tool: string, options: { title?: string; displayName?: string; description?: string }): string {
  if (options.title) return options.title;
  return [options.displayName ?? tool, options.description].filter(Boolean).join(': ');
}

/**
 * The agent's suggestions, kept for this process only: a person's "remember" is Tether's to keep
 * (for the session, across processes), never a write to the user's or the project's settings files.
 */
function forThisSession(suggestions: PermissionUpdate[]): PermissionUpdate[] {
  return suggestions.map((update) => ({ ...update, destination: 'session' }));
}
