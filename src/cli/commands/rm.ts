import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, type CliContext } from '../output.js';
import { notFound } from './show.js';

export function registerRm(program: Command, ctx: CliContext): void {
  program
    .command('rm')
    .description('remove a key with all its sessions and turns')
    .argument('<key>', 'conversation key')
    .action(async (key: string, _flags: unknown, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const latest = await withTether(cmd, io, async (tether) => {
        const session = await tether.get(key);
        if (!session) throw notFound(key);
        await tether.delete(key);
        return session;
      });
      const generations = latest.generation === 1 ? '1 generation' : `${latest.generation} generations`;
      io.stdout.write(`removed ${JSON.stringify(key)} (${generations}) and its history\n`);
      ctx.exitCode = EXIT_OK;
    });
}
