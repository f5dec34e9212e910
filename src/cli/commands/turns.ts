import type { Command } from 'commander';
import { turnToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import type { TurnRecord } from '../../domain/types.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { columns, duration, EXIT_OK, printJSON, truncate, type CliContext } from '../output.js';
import { intOption } from './options.js';
import { notFound } from './show.js';

export function registerTurns(program: Command, ctx: CliContext): void {
  program
    .command('turns')
    .description('list the turns of a key, oldest first, across its generations')
    .argument('<key>', 'conversation key')
    .option('--limit <n>', 'at most this many turns', intOption(1, 100_000))
    .option('--json', 'print an array of Turn JSON')
    .action(async (key: string, flags: { limit?: number; json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const turns = await withTether(cmd, io, async (tether) => {
        const list = await tether.turns(key, flags.limit !== undefined ? { limit: flags.limit } : {});
        // An empty list is ambiguous; an unknown key is "not found" as for `show`.
        if (list.length === 0 && !(await tether.get(key))) throw notFound(key);
        return list;
      }, { readOnly: 'turns' });
      if (flags.json) printJSON(io.stdout, turns.map(turnToJSON));
      else io.stdout.write(turns.length === 0 ? 'no turns\n' : `${turnTable(turns)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}

function turnTable(turns: TurnRecord[]): string {
  const rows = turns.map((t) => [
    `#${t.seq}`,
    t.status,
    duration(t.startedAt !== null && t.endedAt !== null ? t.endedAt - t.startedAt : null),
    truncate(t.prompt, 60),
  ]);
  // No header: one line per turn, so the output can be counted and grepped.
  return columns(rows);
}
