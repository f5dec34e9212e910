import { Command, Option } from 'commander';
import type { ListFilter } from '../../broker/api.js';
import { sessionToJSON } from '../../domain/json.js';
import { SESSION_STATUSES, type SessionStatus } from '../../domain/types.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, printJSON, sessionTable, type CliContext } from '../output.js';
import { collect, intOption, labelsOf, metaOf } from './options.js';

interface LsFlags {
  status?: SessionStatus;
  label?: string[];
  meta?: string[];
  limit?: number;
  json?: boolean;
}

export function registerLs(program: Command, ctx: CliContext): void {
  program
    .command('ls')
    .description('list sessions: the latest generation of each key, most recently active first')
    .addOption(new Option('--status <status>', 'only sessions in this status').choices(SESSION_STATUSES))
    .option('--label <k=v>', 'only sessions with this label (repeatable; all must match)', collect)
    .option('--meta <k=v>', 'only sessions whose metadata has this string value, e.g. taskId=T-1 (repeatable; all must match)', collect)
    .option('--limit <n>', 'at most this many sessions', intOption(1, 100_000))
    .option('--json', 'print an array of Session JSON')
    .action(async (flags: LsFlags, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      const labels = labelsOf(flags.label);
      // Strings, as the daemon reads `?meta=k=v`: "5" does not match a number 5 in either mode.
      const metadata = metaOf(flags.meta);
      const filter: ListFilter = {
        ...(flags.status !== undefined ? { status: flags.status } : {}),
        ...(labels !== undefined ? { labels } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      };
      const sessions = await withTether(cmd, io, (tether) => tether.list(filter), { readOnly: 'ls' });
      if (flags.json) printJSON(io.stdout, sessions.map(sessionToJSON));
      else io.stdout.write(sessions.length === 0 ? 'no sessions\n' : `${sessionTable(sessions)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}
