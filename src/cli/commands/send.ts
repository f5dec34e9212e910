import { Command, Option } from 'commander';
import type { SendOptions } from '../../broker/api.js';
import { validateKey } from '../../domain/keys.js';
import { PERMISSION_MODES, type PermissionMode } from '../../domain/types.js';
import { invalidInput } from '../../errors.js';
import { checkGlobals, globalsOf } from '../open.js';
import { readStdin, type CliContext, type CliIO } from '../output.js';
import { runTurn } from '../run-turn.js';
import { collect, cwdOf, intOption, labelsOf, linkOf, metaOf } from './options.js';

interface SendFlags {
  backend?: 'claude' | 'codex';
  cwd?: string;
  model?: string;
  permissionMode?: PermissionMode;
  appendSystemPrompt?: string;
  maxTurns?: number;
  label?: string[];
  meta?: string[];
  taskId?: string;
  mcpSessionId?: string;
  rejectIfBusy?: boolean;
  approvals?: 'ask' | 'deny';
  approvalTimeout?: number;
  allowRule?: string[];
  denyRule?: string[];
  json?: boolean;
}

export function registerSend(program: Command, ctx: CliContext): void {
  program
    .command('send')
    .description('send a prompt to the conversation of <key> and stream the reply')
    .argument('<key>', 'conversation key, e.g. discord:123456')
    .argument('<prompt...>', 'the prompt; words are joined with spaces, "-" reads it from stdin')
    .addOption(new Option('--backend <agent>', 'the agent: Claude Code or Codex (new sessions; default TETHER_DEFAULT_BACKEND, else claude)').choices(['claude', 'codex']))
    .option('--cwd <dir>', 'working directory of the agent (new sessions)')
    .option('--model <model>', 'model of the agent (new sessions)')
    .addOption(new Option('--permission-mode <mode>', 'permission mode of the agent (new sessions)').choices(PERMISSION_MODES))
    .option('--append-system-prompt <text>', 'text appended to the system prompt (new sessions)')
    .option('--max-turns <n>', 'agentic turns per prompt at most (new sessions)', intOption(1, 1000))
    .option('--label <k=v>', 'label the session (repeatable; new sessions)', collect)
    .option('--meta <k=v>', 'metadata of the session, a string value (repeatable; new sessions)', collect)
    .option('--task-id <id>', 'the task this conversation serves, kept as metadata taskId (new sessions)')
    .option('--mcp-session-id <id>', 'the MCP session this conversation serves, kept as metadata mcpSessionId (new sessions)')
    .addOption(
      new Option('--approvals <mode>', 'ask: tool calls the agent would ask a person about wait for a decision (asked here on a terminal); deny: refused (new sessions)').choices([
        'ask',
        'deny',
      ]),
    )
    .option('--approval-timeout <seconds>', 'how long an approval waits for a decision (new sessions)', intOption(1, 30 * 24 * 3600))
    .option('--allow-rule <rule>', 'a tool call allowed without asking, in Claude Code\'s rule syntax, e.g. "Bash(npm test:*)" (repeatable; new sessions)', collect)
    .option('--deny-rule <rule>', 'a tool call refused without asking, e.g. "Bash(rm:*)" (repeatable; new sessions)', collect)
    .option('--reject-if-busy', 'exit 3 at once instead of queuing behind a running turn')
    .option('--json', 'print one TetherEvent per line (NDJSON) instead of the reply text')
    .action(async (key: string, words: string[], flags: SendFlags, cmd: Command) => {
      ctx.exitCode = await send(cmd, ctx.io, key, words, flags);
    });
}

async function send(cmd: Command, io: CliIO, key: string, words: string[], flags: SendFlags): Promise<number> {
  // Everything checkable is checked before the store is opened: invalid input writes nothing.
  const g = globalsOf(cmd);
  checkGlobals(g, io);
  validateKey(key);
  const labels = labelsOf(flags.label);
  const metadata = metaOf(flags.meta);
  const taskId = linkOf('--task-id', flags.taskId);
  const mcpSessionId = linkOf('--mcp-session-id', flags.mcpSessionId);
  const cwd = await cwdOf(flags.cwd, g, io);
  const prompt = await readPrompt(words, io);

  const options: SendOptions = {
    ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.permissionMode !== undefined ? { permissionMode: flags.permissionMode } : {}),
    ...(flags.appendSystemPrompt !== undefined ? { appendSystemPrompt: flags.appendSystemPrompt } : {}),
    ...(flags.maxTurns !== undefined ? { maxTurns: flags.maxTurns } : {}),
    ...(labels !== undefined ? { labels } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
    ...(taskId !== undefined ? { taskId } : {}),
    ...(mcpSessionId !== undefined ? { mcpSessionId } : {}),
    ...(flags.approvals !== undefined ? { approvals: flags.approvals } : {}),
    ...(flags.approvalTimeout !== undefined ? { approvalTimeoutSec: flags.approvalTimeout } : {}),
    ...(flags.allowRule || flags.denyRule
      ? { approvalRules: { ...(flags.allowRule ? { allow: flags.allowRule } : {}), ...(flags.denyRule ? { deny: flags.denyRule } : {}) } }
      : {}),
    ...(flags.rejectIfBusy ? { onBusy: 'reject' as const } : {}),
  };
  return runTurn(cmd, io, key, flags.json === true, (tether) => tether.send(key, prompt, options));
}

async function readPrompt(words: string[], io: CliIO): Promise<string> {
  let prompt = words.join(' ');
  if (words.length === 1 && words[0] === '-') {
    // `echo hi | tether send k -` should send "hi", not "hi\n".
    prompt = (await readStdin(io)).trimEnd();
  }
  if (prompt.trim() === '') throw invalidInput('prompt must not be empty');
  return prompt;
}
