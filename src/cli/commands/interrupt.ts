import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printLine, type CliContext } from '../output.js';
import { notFound } from './show.js';

export function registerInterrupt(program: Command, ctx: CliContext): void {
  program
    .command('interrupt')
    .description("stop the key's running turn (journaled interrupted), wherever it runs: this process, another one on the same store, or the daemon")
    .argument('<key>', 'conversation key')
    .option('--json', 'print the result as JSON')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const { turnId } = await withTether(cmd, io, async (tether) => {
        // NOT_FOUND for an unknown key, as the daemon answers.
        if (!(await tether.get(key))) throw notFound(key);
        return tether.interrupt(key);
      });
      if (flags.json) printLine(io.stdout, { interrupted: turnId !== null, turnId });
      else if (turnId) io.stdout.write(`interrupted turn ${turnId} of ${JSON.stringify(key)}\n`);
      else io.stdout.write(`no turn of ${JSON.stringify(key)} is running\n`);
      ctx.exitCode = EXIT_OK;
    });
}
