import type { Command } from 'commander';
import type { TetherStats } from '../../broker/api.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, keyValues, printJSON, type CliContext } from '../output.js';

export function registerStats(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('counts of sessions and turns, and the tokens spent')
    .option('--json', 'print the stats as JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      const g = globalsOf(cmd);
      checkGlobals(g, io);
      const stats = await withTether(cmd, io, (tether) => tether.stats(g.tenant !== undefined ? { tenant: g.tenant } : {}), { readOnly: 'stats' });
      if (flags.json) printJSON(io.stdout, stats);
      else io.stdout.write(`${statsLines(stats)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}

const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .map(([name, n]) => `${name} ${n}`)
    .join(' · ');

function statsLines(s: TetherStats): string {
  const u = s.usage;
  return keyValues([
    ['tenant', s.tenant ?? '(all)'],
    ['live sessions', String(s.sessions.live)],
    ['sessions by status', counts(s.sessions.byStatus)],
    ['sessions ever', `created ${s.sessions.created} · expired ${s.sessions.expired} · evicted ${s.sessions.evicted} · reset ${s.sessions.reset}`],
    ['turns', counts(s.turns)],
    ['tokens', `in ${u.inputTokens} · out ${u.outputTokens} · cache read ${u.cacheReadTokens} · cache write ${u.cacheWriteTokens}`],
    ['cost', `$${u.costUsd.toFixed(4)}`],
    ['running here', String(s.runningHere)],
    ...(s.usageLimit ? [['usage limit', `turns wait until ${s.usageLimit.until} (${s.usageLimit.reason})`] as [string, string]] : []),
  ]);
}
