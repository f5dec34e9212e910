import { onStopSignals } from '../signals.js';
import type { Command } from 'commander';
import { loadConfig, type TetherConfig } from '../../config.js';
import { validateTenant } from '../../domain/keys.js';
import { invalidInput } from '../../errors.js';
import { createLogger } from '../../lib/logger.js';
import { REDACT_PATHS } from '../../server/app.js';
import { serve } from '../../server/serve.js';
import { globalsOf } from '../open.js';
import { EXIT_OK, type CliContext, type CliIO } from '../output.js';
import { intOption } from './options.js';
import { watchParent } from '../parent-watch.js';

interface ServeFlags {
  port?: number;
  host?: string;
  databaseUrl?: string;
}

/** `tether serve`: the HTTP daemon, until SIGTERM or SIGINT. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the HTTP daemon until SIGTERM/SIGINT (running turns get TETHER_SHUTDOWN_GRACE seconds)')
    .option('--port <port>', 'port to listen on (default: $TETHER_PORT or 7420; 0 picks a free one)', intOption(0, 65_535))
    .option('--host <host>', 'interface to listen on (default: $TETHER_HOST or 127.0.0.1; others need TETHER_TOKENS)')
    .option('--database-url <url>', 'PostgreSQL URL: several nodes share one fleet of sessions (default: $TETHER_DATABASE_URL)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      ctx.exitCode = await run(cmd, ctx.io, flags);
    });
}

async function run(cmd: Command, io: CliIO, flags: ServeFlags): Promise<number> {
  const g = globalsOf(cmd);
  // --server means "talk to a daemon"; this command is the daemon. TETHER_URL is for clients: ignored.
  if (g.server !== undefined) throw invalidInput('serve runs the daemon itself; --server is for commands that talk to one');
  if (g.tenant !== undefined) validateTenant(g.tenant);
  const config = loadConfig(
    {
      ...(g.db !== undefined ? { db: g.db } : {}),
      ...(g.tenant !== undefined ? { tenant: g.tenant } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.databaseUrl !== undefined ? { databaseUrl: flags.databaseUrl } : {}),
    },
    io.env,
  );

  // Logs go to the CLI's stderr; stdout carries the one "listening" line.
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, sink: io.stderr, redact: REDACT_PATHS });
  const server = await serve({ config, env: io.env, logger });
  const db = config.persistence ? config.db : 'in memory (ENABLE_PERSISTENCE=false)';
  io.stdout.write(`tether listening on ${server.url} (auth: ${server.auth ? 'on' : 'off'}, db: ${db})\n`);

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    io.stderr.write(`shutting down (${why}); running turns get the grace period; press Ctrl-C again to quit at once\n`);
    void server.close();
  };
  const stopListening = onStopSignals(io, stop);
  // `npm start` killed (SIGKILL, or SIGTERM its shell does not pass on) would leave the daemon
  // running, adopted by init, holding its port and database.
  const parentWatch = watchesParent(config.exitWithParent, io.env) ? watchParent(() => stop('the process that started it is gone')) : null;
  try {
    await server.closed;
  } finally {
    stopListening();
    parentWatch?.cancel();
  }
  return EXIT_OK;
}

/** `auto` watches when a package manager started us: it sets npm_lifecycle_event for its scripts (npm, pnpm, yarn, npx). */
function watchesParent(setting: TetherConfig['exitWithParent'], env: NodeJS.ProcessEnv): boolean {
  return setting === 'always' || (setting === 'auto' && Boolean(env.npm_lifecycle_event));
}
