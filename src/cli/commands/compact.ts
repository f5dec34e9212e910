import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printLine, type CliContext } from '../output.js';

export function registerCompact(program: Command, ctx: CliContext): void {
  program
    .command('compact')
    .description("ask the agent to compact the key's conversation (a summary replaces the history); prints the context before and after")
    .argument('<key>', 'conversation key')
    .option('--json', 'print the result as JSON')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const result = await withTether(cmd, io, (tether) => tether.compact(key));
      if (flags.json) printLine(io.stdout, result);
      else io.stdout.write(`compacted ${JSON.stringify(key)}: ${result.preTokens} -> ${result.postTokens} context tokens\n`);
      ctx.exitCode = EXIT_OK;
    });
}
