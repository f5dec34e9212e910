import type { Command } from 'commander';
import { sessionToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, type CliContext } from '../output.js';
import { intOption } from './options.js';

export function registerFork(program: Command, ctx: CliContext): void {
  program
    .command('fork')
    .description("start <newKey> as a copy of <key>'s conversation (all of it, or up to turn --at-turn); <key> is untouched")
    .argument('<key>', 'conversation to copy')
    .argument('<newKey>', 'key of the new session')
    .option('--at-turn <n>', 'keep turns up to and including this turn number', intOption(1, Number.MAX_SAFE_INTEGER))
    .option('--replace', "replace <newKey>'s live session, if it has one")
    .option('--json', 'print Session JSON')
    .action(async (key: string, newKey: string, flags: { atTurn?: number; replace?: boolean; json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      validateKey(newKey);
      const session = await withTether(cmd, io, (tether) =>
        tether.fork(key, newKey, { ...(flags.atTurn !== undefined ? { atTurn: flags.atTurn } : {}), ...(flags.replace ? { replace: true } : {}) }),
      );
      if (flags.json) printJSON(io.stdout, sessionToJSON(session));
      else io.stdout.write(`forked ${JSON.stringify(key)} to ${JSON.stringify(newKey)} (${session.turns} turns)\n`);
      ctx.exitCode = EXIT_OK;
    });
}
