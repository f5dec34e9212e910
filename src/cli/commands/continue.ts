import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf } from '../open.js';
import type { CliContext } from '../output.js';
import { runTurn } from '../run-turn.js';

export function registerContinue(program: Command, ctx: CliContext): void {
  program
    .command('continue')
    .description('let the agent go on where it stopped, without a new prompt, and stream the reply')
    .argument('<key>', 'conversation key')
    .option('--reject-if-busy', 'exit 3 at once if a turn of the key is running or queued')
    .option('--json', 'print one TetherEvent per line (NDJSON) instead of the reply text')
    .addHelpText('after', '\nClaude Code needs user text to take a turn, so it is sent `continue`, as typing it would. Output and exit codes are those of send.')
    .action(async (key: string, flags: { json?: boolean; rejectIfBusy?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      ctx.exitCode = await runTurn(cmd, io, key, flags.json === true, (tether) => tether.continue(key, flags.rejectIfBusy ? { onBusy: 'reject' } : {}));
    });
}
