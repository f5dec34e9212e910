import type { PermissionAnswer, PermissionAsk, TurnHooks } from '../agent.js';
import type { CommandExecutionRequestApprovalParams } from './protocol/v2/CommandExecutionRequestApprovalParams.js';
import type { FileChangeRequestApprovalParams } from './protocol/v2/FileChangeRequestApprovalParams.js';
import type { CommandExecutionApprovalDecision } from './protocol/v2/CommandExecutionApprovalDecision.js';
import { commandOf } from './normalize.js';

/**
 * Codex's approval requests as Tether's approvals. A command is asked about as Claude Code's
 * `Bash` tool with its `command`, a patch as `Edit` with its `file_path`, so one set of
 * approvalRules (`Bash(npm test:*)`, `Edit(src/**)`) decides for both backends.
 */

export const COMMAND_APPROVAL = 'item/commandExecution/requestApproval';
export const FILE_CHANGE_APPROVAL = 'item/fileChange/requestApproval';

/** The paths a patch item touches, kept from its `item/started` (the request names only the item). */
export type PatchPaths = (itemId: string) => string[];

/**
 * The answer to an approval request of the running turn: asks `hooks` (a person, through the
 * broker), or declines when the session does not ask (its policy then never asks anyway).
 */
export async function answerApproval(
  method: string,
  params: Record<string, unknown>,
  hooks: TurnHooks | null,
  signal: AbortSignal,
  pathsOf: PatchPaths,
): Promise<{ decision: CommandExecutionApprovalDecision }> {
  const ask = askOf(method, params, signal, pathsOf);
  if (!ask || !hooks?.ask) return { decision: 'decline' };
  let answer: PermissionAnswer;
  try {
    answer = await hooks.ask(ask);
  } catch {
    // Fail closed: a call nobody could decide does not run.
    return { decision: 'decline' };
  }
  if (answer.behavior === 'deny') return { decision: answer.interrupt ? 'cancel' : 'decline' };
  return { decision: answer.remember ? 'acceptForSession' : 'accept' };
}

function askOf(method: string, params: Record<string, unknown>, signal: AbortSignal, pathsOf: PatchPaths): PermissionAsk | null {
  if (method === COMMAND_APPROVAL) {
    const p = params as unknown as CommandExecutionRequestApprovalParams;
    const command = commandOf(p.command ?? '', p.commandActions ?? null);
    return {
      kind: 'tool',
      toolUseId: p.approvalId ? `${p.itemId}:${p.approvalId}` : p.itemId,
      tool: 'Bash',
      input: { command, ...(p.command && p.command !== command ? { shellCommand: p.command } : {}), ...(p.cwd ? { cwd: p.cwd } : {}), ...(p.reason ? { description: p.reason } : {}) },
      title: p.reason ? `Run ${command}: ${p.reason}` : `Run ${command}`,
      suggestions: [],
      signal,
    };
  }
  if (method === FILE_CHANGE_APPROVAL) {
    const p = params as unknown as FileChangeRequestApprovalParams;
    const paths = pathsOf(p.itemId);
    return {
      kind: 'tool',
      toolUseId: p.itemId,
      tool: 'Edit',
      input: { file_path: paths[0] ?? p.grantRoot ?? '', paths, ...(p.reason ? { description: p.reason } : {}) },
      title: `Edit ${paths.join(', ') || 'files'}${p.reason ? `: ${p.reason}` : ''}`,
      suggestions: [],
      signal,
    };
  }
  return null;
}
