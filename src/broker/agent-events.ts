import type { AgentEvent } from '../agents/agent.js';
import type { TetherEvent } from '../domain/events.js';
import type { SessionRecord, TurnRecord } from '../domain/types.js';

/**
 * The TetherEvent an agent event of a running turn stands for, or null for the ones the turn
 * handles itself (`init`: the conversation id; `result`: the outcome).
 */
export function tetherEventOf(event: AgentEvent, turn: TurnRecord, session: SessionRecord, at: string): TetherEvent | null {
  const base = { tenant: turn.tenant, key: turn.key, turnId: turn.id, sessionId: session.id, at };
  const sessionBase = { tenant: turn.tenant, key: turn.key, sessionId: session.id, generation: session.generation, turnId: turn.id, at };
  switch (event.type) {
    case 'compacted':
      return { type: 'session.compacted', ...sessionBase, reason: event.trigger, preTokens: event.preTokens, postTokens: event.postTokens };
    case 'recovered':
      return {
        type: 'session.recovered',
        ...sessionBase,
        reason: event.reason,
        previousAgentSessionId: event.previousAgentSessionId,
        agentSessionId: event.agentSessionId,
      };
    case 'text.delta':
      return { type: 'text.delta', ...base, text: event.text };
    case 'message':
      return { type: 'message', ...base, role: 'assistant', text: event.text };
    case 'tool.use':
      return { type: 'tool.use', ...base, toolUseId: event.toolUseId, name: event.name, input: event.input };
    case 'tool.result':
      return { type: 'tool.result', ...base, toolUseId: event.toolUseId, content: event.content, isError: event.isError };
    case 'init':
    case 'result':
      return null;
  }
}
