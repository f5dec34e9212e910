import { Command, CommanderError } from 'commander';
import { createInterface } from 'node:readline/promises';
import { registerApprovals } from './commands/approvals.js';
import { registerCompact } from './commands/compact.js';
import { registerContinue } from './commands/continue.js';
import { registerDemo } from './commands/demo.js';
import { registerExport } from './commands/export.js';
import { registerFork } from './commands/fork.js';
import { registerGc } from './commands/gc.js';
import { registerImport } from './commands/import.js';
import { registerInterrupt } from './commands/interrupt.js';
import { registerLs } from './commands/ls.js';
import { registerMcp } from './commands/mcp.js';
import { registerMockApi } from './commands/mock-api.js';
import { registerRegenerate } from './commands/regenerate.js';
import { registerReset } from './commands/reset.js';
import { registerRm } from './commands/rm.js';
import { registerSend } from './commands/send.js';
import { registerServe } from './commands/serve.js';
import { registerShow } from './commands/show.js';
import { registerStats } from './commands/stats.js';
import { registerTeams } from './commands/teams.js';
import { registerTurns } from './commands/turns.js';
import { registerUpdate } from './commands/update.js';
import { registerSleep, registerWake } from './commands/warmth.js';
import { EXIT_OK, EXIT_USAGE, printError, type CliContext, type CliIO } from './output.js';
import { packageVersion } from '../lib/package-version.js';

export type { CliIO, SignalSource, Writer } from './output.js';

/**
 * Runs the CLI on `argv` (the arguments after the program name) and returns the exit code.
 * Never exits the process itself, so tests run it in-process with captured streams.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const ctx: CliContext = { io, exitCode: EXIT_OK };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err);
    return printError(io, err);
  }
}

function processIO(): CliIO {
  const terminal = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, ...(terminal ? { ask: askOnTerminal } : {}) };
}

/** One question on the terminal (prompt on stderr, so stdout stays the reply). */
async function askOnTerminal(question: string, signal: AbortSignal): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question, { signal });
  } finally {
    rl.close();
  }
}

function buildProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command('tether')
    .description('A session broker for coding-agent CLIs: durable Claude Code sessions behind keys.')
    .version(packageVersion(), '-V, --version')
    .option('--db <path>', 'SQLite database file (default: $TETHER_DB or ./data/tether.db)')
    .option('--server <url>', 'talk to a running Tether daemon (default: $TETHER_URL)')
    .option('--token <token>', 'API token for --server (default: $TETHER_TOKEN)')
    .option('--tenant <name>', 'owner of the keys (default: $TETHER_TENANT or "default")')
    // Set before the commands are added: commander copies these settings into each of them.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s),
    })
    .showHelpAfterError('(run "tether --help" for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok · 1 the turn or agent failed · 2 invalid input or usage · 3 busy or queue full · 4 not found',
    );

  registerServe(program, ctx);
  registerSend(program, ctx);
  registerRegenerate(program, ctx);
  registerContinue(program, ctx);
  registerLs(program, ctx);
  registerShow(program, ctx);
  registerUpdate(program, ctx);
  registerTurns(program, ctx);
  registerReset(program, ctx);
  registerCompact(program, ctx);
  registerWake(program, ctx);
  registerSleep(program, ctx);
  registerFork(program, ctx);
  registerExport(program, ctx);
  registerImport(program, ctx);
  registerInterrupt(program, ctx);
  registerApprovals(program, ctx);
  registerTeams(program, ctx);
  registerRm(program, ctx);
  registerStats(program, ctx);
  registerGc(program, ctx);
  registerMcp(program, ctx);
  registerMockApi(program, ctx);
  registerDemo(program, ctx);

  for (const command of program.commands) {
    command.showHelpAfterError(`(run "tether ${command.name()} --help" for usage)`);
  }
  return program;
}

/** Help and version exit 0; everything else commander refuses is a usage error. */
function commanderExit(err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
  // `tether help` exits 0; bare `tether` (help shown because no command was given) is a usage error.
  if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return EXIT_USAGE;
}
