import type { Command } from 'commander';
import { sessionToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, sessionLines, type CliContext } from '../output.js';

export const notFound = (key: string): TetherError => new TetherError(ErrorCode.NOT_FOUND, `no session for key ${JSON.stringify(key)}`);

export function registerShow(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description("show the key's current session (or its latest, if none is live)")
    .argument('<key>', 'conversation key')
    .option('--json', 'print Session JSON')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const session = await withTether(cmd, io, (tether) => tether.get(key), { readOnly: 'show' });
      if (!session) throw notFound(key);
      if (flags.json) printJSON(io.stdout, sessionToJSON(session));
      else io.stdout.write(`${sessionLines(session)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}
