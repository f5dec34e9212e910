import type { Command } from 'commander';
import { invalidInput } from '../../errors.js';
import { startMockAgents } from '../../testing/mock-agents.js';
import { EXIT_OK, type CliContext, type CliIO } from '../output.js';
import { intOption } from './options.js';

export function registerMockApi(program: Command, ctx: CliContext): void {
  program
    .command('mock-api')
    .description('run local mocks of the Anthropic Messages API and the OpenAI Responses API for the real agents (Claude Code, Codex) to talk to offline')
    .option('--port <port>', 'port of the Anthropic mock (0: any free port)', intOption(0, 65_535), 18080)
    .option('--responses-port <port>', 'port of the Responses mock, for Codex (0: any free port)', intOption(0, 65_535), 18081)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (flags: { port: number; responsesPort: number; host: string }) => {
      const { io } = ctx;
      const mocks = await startMockAgents({ host: flags.host, anthropicPort: flags.port, responsesPort: flags.responsesPort }).catch((err: unknown) => {
        // The remedy is another flag value, so a taken port is reported like invalid input.
        if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') {
          throw invalidInput(`${flags.host}:${flags.port} or :${flags.responsesPort} is already in use; choose another --port / --responses-port (0 picks a free one)`);
        }
        throw err;
      });
      io.stdout.write(`mock Anthropic API listening on ${mocks.anthropic.url}\n`);
      io.stdout.write(`mock Responses API listening on ${mocks.responses.url}\n`);
      io.stdout.write('point the agents at them with:\n');
      io.stdout.write(`${envLine(mocks.env)}\n`);
      io.stdout.write('press Ctrl-C to stop\n');
      const signal = await nextStopSignal(io);
      await mocks.stop();
      io.stderr.write(`mock APIs stopped (${signal})\n`);
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
