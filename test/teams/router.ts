import type { MockReply, RecordedRequest } from '../../src/testing/mock-anthropic.js';

/*
 * The mock model of the teams tests: it tells the agents apart by the system prompt each team's
 * appendSystemPrompt sets (`TEAM=backend`, …; the person's own Claude Code has none), and scripts
 * the tool calls a real model would make:
 * - the person, told `ASK <team>: <question>`, calls team_ask;
 * - a team agent answers `<team> answers "<question>" (message <n>)`, n counting the messages
 *   of its conversation (so a continued conversation shows);
 * - a question starting with LOOP makes backend ask frontend, and frontend ask backend back;
 * - `WRITE <path>` makes the agent call Write (for approvals);
 * - any tool result is answered `<who> heard: <the result's text>`: the reply of a team_ask,
 *   which Claude Code shows the model as the tool's structured content (JSON with `reply`).
 */
export function teamsRouter(): (req: RecordedRequest) => MockReply {
  return (req) => {
    const system = JSON.stringify(req.body.system ?? '');
    const who = /TEAM=([a-z0-9_-]+)/.exec(system)?.[1] ?? 'person';
    const result = lastToolResult(req.body.messages);
    if (result !== null) return { text: `${who} heard: ${replyOf(result)}` };
    const question = req.lastUserText;
    if (who === 'person') {
      const ask = /^ASK ([a-z0-9_-]+): (.*)$/s.exec(question);
      if (ask) return { toolUse: { name: 'mcp__tether__team_ask', input: { toTeam: ask[1], message: ask[2] } } };
      return { text: 'person: nothing to ask' };
    }
    if (question.startsWith('LOOP')) {
      const toTeam = who === 'backend' ? 'frontend' : 'backend';
      return { toolUse: { name: 'mcp__tether__team_ask', input: { toTeam, message: `LOOP from ${who}` } } };
    }
    const write = /^WRITE (\S+)/.exec(question);
    if (write) return { toolUse: { name: 'Write', input: { file_path: write[1], content: `written by ${who}\n` } } };
    return { text: `${who} answers "${question}" (message ${req.userTexts.length})` };
  };
}

/** The text of the tool result the conversation ends with, or null when it ends with something else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lastToolResult(messages: any): string | null {
  const last = Array.isArray(messages) ? messages.at(-1) : null;
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const block = last.content.find((b: any) => b?.type === 'tool_result');
  if (!block) return null;
  if (typeof block.content === 'string') return block.content;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return Array.isArray(block.content) ? block.content.map((c: any) => (typeof c?.text === 'string' ? c.text : '')).join('') : '';
}

/** The reply of a team_ask result (structured content), else the text as it is. */
function replyOf(text: string): string {
  try {
    const value = JSON.parse(text) as { reply?: unknown };
    if (typeof value.reply === 'string') return value.reply;
  } catch {
    // not JSON: an error's text
  }
  return text;
}
