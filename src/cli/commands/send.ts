import { Command, Option } from 'commander';
import path from 'node:path';
import type { SendOptions, Tether, TurnHandle } from '../../broker/api.js';
import { isTerminalTurnEvent, type TetherEvent, type TurnFailedEvent, type TurnResult } from '../../domain/events.js';
import { validateKey } from '../../domain/keys.js';
import { PERMISSION_MODES, type PermissionMode } from '../../domain/types.js';
import { invalidInput, toTetherError, type TetherError } from '../../errors.js';
import { checkGlobals, globalsOf, serverOf, withTether } from '../open.js';
import { EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, printError, printLine, type CliContext, type CliIO, type Writer } from '../output.js';
import { onStopSignals } from '../signals.js';
import { collect, directoryOf, intOption, labelsOf, linkOf, metaOf } from './options.js';

interface SendFlags {
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
  json?: boolean;
}

export function registerSend(program: Command, ctx: CliContext): void {
  program
    .command('send')
    .description('send a prompt to the conversation of <key> and stream the reply')
    .argument('<key>', 'conversation key, e.g. discord:123456')
    .argument('<prompt...>', 'the prompt; words are joined with spaces, "-" reads it from stdin')
    .option('--cwd <dir>', 'working directory of the agent (new sessions)')
    .option('--model <model>', 'model of the agent (new sessions)')
    .addOption(new Option('--permission-mode <mode>', 'permission mode of the agent (new sessions)').choices(PERMISSION_MODES))
    .option('--append-system-prompt <text>', 'text appended to the system prompt (new sessions)')
    .option('--max-turns <n>', 'agentic turns per prompt at most (new sessions)', intOption(1, 1000))
    .option('--label <k=v>', 'label the session (repeatable; new sessions)', collect)
    .option('--meta <k=v>', 'metadata of the session, a string value (repeatable; new sessions)', collect)
    .option('--task-id <id>', 'the task this conversation serves, kept as metadata taskId (new sessions)')
    .option('--mcp-session-id <id>', 'the MCP session this conversation serves, kept as metadata mcpSessionId (new sessions)')
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
  // Against a daemon the directory is on the daemon's host: it checks it (and its allowed roots).
  const cwd = flags.cwd === undefined ? undefined : serverOf(g, io) !== undefined ? path.resolve(flags.cwd) : await directoryOf(flags.cwd);
  const prompt = await readPrompt(words, io);

  const options: SendOptions = {
    ...(cwd !== undefined ? { cwd } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.permissionMode !== undefined ? { permissionMode: flags.permissionMode } : {}),
    ...(flags.appendSystemPrompt !== undefined ? { appendSystemPrompt: flags.appendSystemPrompt } : {}),
    ...(flags.maxTurns !== undefined ? { maxTurns: flags.maxTurns } : {}),
    ...(labels !== undefined ? { labels } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
    ...(taskId !== undefined ? { taskId } : {}),
    ...(mcpSessionId !== undefined ? { mcpSessionId } : {}),
    ...(flags.rejectIfBusy ? { onBusy: 'reject' as const } : {}),
  };
  return runTurn(cmd, io, key, flags.json === true, (tether) => tether.send(key, prompt, options));
}

/**
 * Starts a turn (`send`, `regenerate`), prints it as it runs, and returns the exit code: the
 * first SIGINT/SIGTERM interrupts the turn, which is then waited for (130 or 143); otherwise
 * 0, or the code of the error the turn ended with (printed on stderr).
 */
export async function runTurn(cmd: Command, io: CliIO, key: string, json: boolean, start: (tether: Tether) => TurnHandle): Promise<number> {
  const g = globalsOf(cmd);
  const tenant = g.tenant ?? io.env.TETHER_TENANT ?? 'default';
  return withTether(cmd, io, async (tether) => {
    const handle = start(tether);
    let stoppedBy: NodeJS.Signals | null = null;
    const stopListening = onStopSignals(io, (signal) => {
      stoppedBy = signal;
      io.stderr.write(`interrupting the turn (${signal}); press Ctrl-C again to quit at once\n`);
      handle.interrupt();
    });
    let outcome: TurnOutcome;
    try {
      outcome = await streamTurn(handle, io, { json, key, tenant });
    } finally {
      stopListening();
    }
    const signal: NodeJS.Signals | null = stoppedBy;
    if (outcome.error) {
      const code = printError(io, outcome.error);
      return signal === null ? code : exitOfSignal(signal);
    }
    return signal === null ? EXIT_OK : exitOfSignal(signal);
  });
}

const exitOfSignal = (signal: NodeJS.Signals): number => (signal === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT);

async function readPrompt(words: string[], io: CliIO): Promise<string> {
  let prompt = words.join(' ');
  if (words.length === 1 && words[0] === '-') {
    const chunks: string[] = [];
    for await (const chunk of io.stdin ?? process.stdin) chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    // `echo hi | tether send k -` should send "hi", not "hi\n".
    prompt = chunks.join('').trimEnd();
  }
  if (prompt.trim() === '') throw invalidInput('prompt must not be empty');
  return prompt;
}

export interface TurnOutcome {
  result: TurnResult | null;
  error: TetherError | null;
}

/**
 * Prints a turn while it runs — reply text as it streams, or one TetherEvent per line — and
 * returns how it ended. With `json`, the last line is always turn.completed or turn.failed, even
 * when the turn was refused before the broker emitted anything.
 */
export async function streamTurn(handle: TurnHandle, io: CliIO, options: { json: boolean; key: string; tenant: string }): Promise<TurnOutcome> {
  // Both reject when the turn fails; the outcome below reports it, so nothing is left unhandled.
  handle.accepted.catch(() => undefined);
  handle.result.catch(() => undefined);

  const text = new ReplyPrinter(io.stdout);
  let terminalPrinted = false;
  let tenant = options.tenant;
  try {
    for await (const event of handle) {
      tenant = event.tenant;
      if (options.json) printLine(io.stdout, event);
      else text.onEvent(event);
      if (!options.json && event.type === 'session.recovered') {
        io.stderr.write(`tether: the agent's conversation for "${event.key}" was lost (${event.reason ?? 'unknown reason'}); continuing in a new one that opens with a recap\n`);
      }
      if (isTerminalTurnEvent(event)) terminalPrinted = true;
    }
  } catch {
    // The same failure rejects `result`, which is where it is read from.
  }

  let outcome: TurnOutcome;
  try {
    outcome = { result: await handle.result, error: null };
  } catch (err) {
    outcome = { result: null, error: toTetherError(err) };
  }

  if (options.json) {
    if (!terminalPrinted) printLine(io.stdout, outcome.result ?? (await failedEvent(handle, outcome.error, options.key, tenant)));
  } else {
    text.finish(outcome.result?.text ?? null);
  }
  return outcome;
}

async function failedEvent(handle: TurnHandle, error: TetherError | null, key: string, tenant: string): Promise<TurnFailedEvent> {
  const accepted = await handle.accepted.catch(() => null);
  const e = error ?? toTetherError(new Error('the turn ended without a result'));
  return {
    type: 'turn.failed',
    tenant,
    key,
    at: new Date().toISOString(),
    // A turn refused before it was journaled has no id.
    turnId: accepted?.turnId ?? '',
    ...(accepted ? { sessionId: accepted.sessionId } : {}),
    error: { code: e.code, message: e.message },
  };
}

/**
 * Writes reply text as deltas arrive. Separate assistant messages of one turn (before and after a
 * tool call) are put on separate lines; the output always ends with a newline.
 */
class ReplyPrinter {
  #out: Writer;
  #wroteDelta = false;
  #breakPending = false;
  #last = '\n';
  #wroteAny = false;

  constructor(out: Writer) {
    this.#out = out;
  }

  onEvent(event: TetherEvent): void {
    if (event.type === 'text.delta') {
      if (event.text === '') return;
      if (this.#breakPending && this.#last !== '\n') this.#write('\n');
      this.#breakPending = false;
      this.#wroteDelta = true;
      this.#write(event.text);
    } else if (event.type === 'message' && this.#wroteDelta) {
      this.#breakPending = true;
    }
  }

  /** `finalText`: the turn's reply, printed only when nothing streamed (an agent without deltas). */
  finish(finalText: string | null): void {
    if (!this.#wroteDelta && finalText) this.#write(finalText);
    if (this.#wroteAny && this.#last !== '\n') this.#write('\n');
  }

  #write(s: string): void {
    this.#out.write(s);
    this.#last = s.at(-1) ?? this.#last;
    this.#wroteAny = true;
  }
}
