import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf } from '../open.js';
import type { CliContext } from '../output.js';
import { runTurn } from '../run-turn.js';

export function registerRegenerate(program: Command, ctx: CliContext): void {
  program
    .command('regenerate')
    .description("run the key's last prompt again from the point before it, and stream the new reply")
    .argument('<key>', 'conversation key')
    .option('--json', 'print one TetherEvent per line (NDJSON) instead of the reply text')
    .addHelpText('after', '\nThe replaced turn stays in `tether turns`; forks and exports leave it out. Output and exit codes are those of send.')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      ctx.exitCode = await runTurn(cmd, io, key, flags.json === true, (tether) => tether.regenerate(key));
    });
}
