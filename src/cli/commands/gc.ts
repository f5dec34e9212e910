import type { Command } from 'commander';
import type { GcResult } from '../../broker/api.js';
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
      // Opening the store already swept once (start-up recovery): that is part of what this command did.
      const result = await withTether(cmd, io, async (tether) => sum(tether.startupSweep?.() ?? null, await tether.gc()));
      if (flags.json) printJSON(io.stdout, result);
      else io.stdout.write(`${gcLine(result)}\n`);
      ctx.exitCode = EXIT_OK;
    });
}

function sum(a: GcResult | null, b: GcResult): GcResult {
  if (!a) return b;
  return {
    expired: a.expired + b.expired,
    evicted: a.evicted + b.evicted,
    recovered: a.recovered + b.recovered,
    adopted: a.adopted + b.adopted,
    hibernated: a.hibernated + b.hibernated,
    reaped: a.reaped + b.reaped,
  };
}

/** The three counts always (scripts read them); the rarer ones only when something happened. */
function gcLine(r: GcResult): string {
  const rare = (['adopted', 'hibernated', 'reaped'] as const).filter((name) => r[name] > 0).map((name) => ` · ${name} ${r[name]}`);
  return `expired ${r.expired} · evicted ${r.evicted} · recovered ${r.recovered}${rare.join('')}`;
}
