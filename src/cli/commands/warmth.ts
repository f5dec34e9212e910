import type { Command } from 'commander';
import type { WakeResult } from '../../broker/api.js';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, serverOf, withTether } from '../open.js';
import { EXIT_OK, printLine, type CliContext } from '../output.js';

/*
 * `tether wake` and `tether sleep`: a session's agent process started ahead of its next turn, or
 * ended early. The process belongs to the Tether that runs it: with --server (or TETHER_URL) the
 * daemon's, where it stays warm for the next message; embedded, this command's own, which ends
 * with the command (so embedded, `wake` only checks that the process starts, and `sleep` finds
 * none).
 */

const what = (key: string, r: WakeResult): string => {
  const k = JSON.stringify(key);
  switch (r.status) {
    case 'woken':
      return `woke ${k}: agent process ${r.pid} is up; the next turn runs warm`;
    case 'awake':
      return `${k} is awake already (agent process ${r.pid})`;
    case 'busy':
      return `${k} is busy: a turn is running or queued`;
    case 'new':
      return `${k} has no conversation yet: its first message starts the agent`;
    case 'cold':
      return `${k}'s agent starts only with a turn (Codex): nothing to wake ahead of it`;
  }
};

export function registerWake(program: Command, ctx: CliContext): void {
  program
    .command('wake')
    .description("start the agent process of the key's session now (resuming its conversation), so its next turn runs warm")
    .argument('<key>', 'conversation key')
    .option('--json', 'print the result as JSON ({ status, pid })')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const result = await withTether(cmd, io, (tether) => tether.wake(key));
      if (flags.json) printLine(io.stdout, result);
      else io.stdout.write(`${what(key, result)}\n`);
      if (result.status === 'woken' && serverOf(globalsOf(cmd), io) === undefined) {
        io.stderr.write('note: without --server the process was this command\'s own and ended with it; wake a daemon\'s session with --server\n');
      }
      ctx.exitCode = EXIT_OK;
    });
}

export function registerSleep(program: Command, ctx: CliContext): void {
  program
    .command('sleep')
    .description("end the idle agent process of the key's session (the session stays; its next turn resumes cold)")
    .argument('<key>', 'conversation key')
    .option('--json', 'print the result as JSON ({ slept })')
    .action(async (key: string, flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const result = await withTether(cmd, io, (tether) => tether.sleep(key));
      if (flags.json) printLine(io.stdout, result);
      else if (result.slept) io.stdout.write(`${JSON.stringify(key)} is asleep: its agent process ended; the session stays\n`);
      else io.stdout.write(`no idle agent process of ${JSON.stringify(key)} runs here\n`);
      ctx.exitCode = EXIT_OK;
    });
}
