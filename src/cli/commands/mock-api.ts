import type { Command } from 'commander';
import { invalidInput } from '../../errors.js';
import { mockAgentEnv, startMockAnthropic } from '../../testing/mock-anthropic.js';
import { EXIT_OK, type CliContext, type CliIO } from '../output.js';
import { intOption } from './options.js';

export function registerMockApi(program: Command, ctx: CliContext): void {
  program
    .command('mock-api')
    .description('run a local mock of the Anthropic Messages API for the real agent to talk to offline')
    .option('--port <port>', 'port to listen on (0: any free port)', intOption(0, 65_535), 18080)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (flags: { port: number; host: string }) => {
      const { io } = ctx;
      const mock = await startMockAnthropic({ port: flags.port, host: flags.host }).catch((err: unknown) => {
        // The remedy is another flag value, so a taken port is reported like invalid input.
        if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') {
          throw invalidInput(`${flags.host}:${flags.port} is already in use; choose another --port (0 picks a free one)`);
        }
        throw err;
      });
      io.stdout.write(`mock Anthropic API listening on ${mock.url}\n`);
      io.stdout.write('point the agent at it with:\n');
      io.stdout.write(`${envLine(mockAgentEnv(mock))}\n`);
      io.stdout.write('press Ctrl-C to stop\n');
      const signal = await nextStopSignal(io);
      await mock.stop();
      io.stderr.write(`mock Anthropic API stopped (${signal})\n`);
      ctx.exitCode = EXIT_OK;
    });
}

/** `ANTHROPIC_BASE_URL=… ANTHROPIC_API_KEY=… …`, ready to prefix a command or `export`. */
export function envLine(env: Record<string, string>): string {
  const first = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY'];
  const names = [...first.filter((n) => n in env), ...Object.keys(env).filter((n) => !first.includes(n))];
  return names.map((n) => `${n}=${shellQuote(env[n] ?? '')}`).join(' ');
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function nextStopSignal(io: CliIO): Promise<NodeJS.Signals> {
  const source = io.signals ?? process;
  return new Promise((resolve) => {
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    const done = (signal: NodeJS.Signals): void => {
      source.off('SIGINT', onInt);
      source.off('SIGTERM', onTerm);
      resolve(signal);
    };
    source.on('SIGINT', onInt);
    source.on('SIGTERM', onTerm);
  });
}
