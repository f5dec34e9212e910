import type { Command } from 'commander';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, type CliContext } from '../output.js';

export function registerGc(program: Command, ctx: CliContext): void {
  program
    .command('gc')
    .description('run the janitor now: expire idle sessions, evict over the cap, recover dead turns')
    .option('--json', 'print the counts as JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      const result = await withTether(cmd, io, (tether) => tether.gc());
      if (flags.json) printJSON(io.stdout, result);
      else io.stdout.write(`expired ${result.expired} · evicted ${result.evicted} · recovered ${result.recovered}\n`);
      ctx.exitCode = EXIT_OK;
    });
}
