import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { validateKey } from '../../domain/keys.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, type CliContext } from '../output.js';

export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description("write the key's session (record, turns, transcript) as a portable bundle")
    .argument('<key>', 'conversation key')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (key: string, flags: { output?: string }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      validateKey(key);
      const bundle = await withTether(cmd, io, (tether) => tether.export(key), { readOnly: 'export' });
      const text = `${JSON.stringify(bundle)}\n`;
      if (flags.output) {
        writeFileSync(flags.output, text, { mode: 0o600 });
        // Silence would leave the reader guessing whether anything was written, and where.
        io.stdout.write(`exported ${JSON.stringify(key)} (${bundle.turns.length} turns, ${Buffer.byteLength(text)} bytes) to ${path.resolve(flags.output)}\n`);
      } else io.stdout.write(text);
      ctx.exitCode = EXIT_OK;
    });
}
