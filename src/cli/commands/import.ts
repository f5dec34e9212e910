import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { sessionToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import { invalidInput } from '../../errors.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, readStdin, type CliContext } from '../output.js';
import { cwdOf } from './options.js';

export function registerImport(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .description('recreate a session from a bundle written by `tether export` (FILE, or - for stdin)')
    .argument('<file>', 'bundle file')
    .option('--key <key>', "import under this key instead of the bundle's")
    .option('--replace', "replace the key's live session, if it has one")
    .option('--cwd <dir>', "working directory here, when the bundle's does not exist on this machine")
    .option('--json', 'print Session JSON')
    .action(async (file: string, flags: { key?: string; replace?: boolean; cwd?: string; json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      const g = globalsOf(cmd);
      checkGlobals(g, io);
      if (flags.key !== undefined) validateKey(flags.key);
      const cwd = await cwdOf(flags.cwd, g, io);
      let text: string;
      try {
        text = file === '-' ? await readStdin(io) : readFileSync(file, 'utf8');
      } catch (err) {
        throw invalidInput(`cannot read ${file}: ${(err as Error).message}`);
      }
      let bundle: unknown;
      try {
        bundle = JSON.parse(text);
      } catch {
        throw invalidInput(`${file} is not JSON (a truncated bundle?)`);
      }
      const session = await withTether(cmd, io, (tether) =>
        tether.import(bundle, { ...(flags.key ? { key: flags.key } : {}), ...(flags.replace ? { replace: true } : {}), ...(cwd !== undefined ? { cwd } : {}) }),
      );
      if (flags.json) printJSON(io.stdout, sessionToJSON(session));
      else io.stdout.write(`imported ${JSON.stringify(session.key)} (${session.turns} turns)\n`);
      ctx.exitCode = EXIT_OK;
    });
}
