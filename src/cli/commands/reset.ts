import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, type CliContext } from '../output.js';

export function registerReset(program: Command, ctx: CliContext): void {
  program
    .command('reset')
    .description("close the key's current session; its next message starts a new generation")
    .argument('<key>', 'conversation key')
    .action(async (key: string, _flags: unknown, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const closed = await withTether(cmd, io, (tether) => tether.reset(key));
      const turns = closed.turns === 1 ? '1 turn' : `${closed.turns} turns`;
      io.stdout.write(`reset ${JSON.stringify(key)}: closed generation ${closed.generation} after ${turns}; the next message starts generation ${closed.generation + 1}\n`);
      ctx.exitCode = EXIT_OK;
    });
}
