import type { PermissionMode, SessionConfig } from '../../domain/types.js';
import { invalidInput } from '../../errors.js';
import type { RunnerSettings } from '../agent.js';
import type { AskForApproval } from './protocol/v2/AskForApproval.js';
import type { SandboxMode } from './protocol/v2/SandboxMode.js';

/**
 * How a session's settings map to Codex's own: the model as is, `appendSystemPrompt` as the
 * thread's developer instructions, the permission mode as a sandbox, and approvals as Codex's
 * approval policy (`untrusted`: every command it does not know to be safe is put to a person).
 */

/** Session settings Codex has no counterpart for: refused, never silently ignored. */
const UNSUPPORTED: Array<[keyof SessionConfig, string]> = [
  ['maxTurns', 'Codex has no limit on agent steps per turn; use maxTurnDurationSec'],
  ['allowedTools', 'Codex has no tool allow-list; use permissionMode (its sandbox) or approvals with approvalRules'],
  ['disallowedTools', 'Codex has no tool deny-list; use permissionMode (its sandbox) or approvals with approvalRules'],
];

/** Throws INVALID_INPUT naming the first setting a Codex session cannot honour. */
export function checkCodexSettings(config: SessionConfig): void {
  for (const [name, instead] of UNSUPPORTED) {
    if (config[name] !== undefined) throw invalidInput(`option ${name} is not supported by the codex backend: ${instead}`);
  }
}

/** The sandbox of each permission mode: plan reads only, bypassPermissions has no sandbox. */
export function sandboxOf(mode: PermissionMode | null): SandboxMode {
  if (mode === 'plan') return 'read-only';
  if (mode === 'bypassPermissions') return 'danger-full-access';
  return 'workspace-write';
}

export interface ThreadSettings {
  model?: string;
  cwd: string;
  approvalPolicy: AskForApproval;
  sandbox: SandboxMode;
  developerInstructions?: string;
}

/** The settings a thread is started, resumed or forked with. */
export function threadSettings(config: SessionConfig, settings: RunnerSettings): ThreadSettings {
  return {
    ...(settings.model ? { model: settings.model } : {}),
    cwd: config.cwd,
    approvalPolicy: config.approvals === 'ask' ? 'untrusted' : 'never',
    sandbox: sandboxOf(settings.permissionMode),
    ...(config.appendSystemPrompt ? { developerInstructions: config.appendSystemPrompt } : {}),
  };
}
