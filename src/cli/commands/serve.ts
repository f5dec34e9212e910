import { onStopSignals } from '../signals.js';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { checkClaudeCredentials } from '../../agents/claude/preflight.js';
import { loadConfig, type TetherConfig } from '../../config.js';
import { validateTenant } from '../../domain/keys.js';
import { invalidInput } from '../../errors.js';
import { createLogger } from '../../lib/logger.js';
import { hideUrlPasswords } from '../../lib/url-password.js';
import { REDACT_PATHS } from '../../server/app.js';
import { serve, type RunningServer } from '../../server/serve.js';
import { startMockAgents, type MockAgents } from '../../testing/mock-agents.js';
import { globalsOf } from '../open.js';
import { EXIT_OK, type CliContext, type CliIO } from '../output.js';
import { intOption } from './options.js';
import { watchParent } from '../parent-watch.js';

interface ServeFlags {
  port?: number;
  host?: string;
  databaseUrl?: string;
  mock?: boolean;
}

/** `tether serve`: the HTTP daemon, until SIGTERM or SIGINT. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the HTTP daemon until SIGTERM/SIGINT (running turns get TETHER_SHUTDOWN_GRACE seconds)')
    .option('--port <port>', 'port to listen on (default: $TETHER_PORT or 7420; 0 picks a free one)', intOption(0, 65_535))
    .option('--host <host>', 'interface to listen on (default: $TETHER_HOST or 127.0.0.1; others need TETHER_TOKENS)')
    .option('--database-url <url>', 'PostgreSQL URL: several nodes share one fleet of sessions (default: $TETHER_DATABASE_URL)')
    .option('--mock', 'offline: agents talk to the bundled mocks of the Anthropic and OpenAI Responses APIs, not to Claude or Codex (canned replies; for trying Tether)')
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
  const agent = await agentEnvironment(io, logger, flags.mock === true, config.defaultBackend === 'claude');
  let server: RunningServer;
  try {
    // The mock's Codex config wins over the operator's: --mock means no real API is reached.
    server = await serve({ config: agent.mock ? { ...config, codexConfig: agent.mock.codexConfig } : config, env: agent.env, logger });
  } catch (err) {
    await agent.mock?.stop();
    throw err;
  }
  io.stdout.write(`tether listening on ${server.url} (auth: ${server.auth ? 'on' : 'off'}, db: ${storeLine(config)}${agent.mock ? `, agents: mock APIs on ${agent.mock.anthropic.url} and ${agent.mock.responses.url}` : ''})\n`);

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
    await agent.mock?.stop();
  }
  return EXIT_OK;
}

/** `auto` watches when a package manager started us: it sets npm_lifecycle_event for its scripts (npm, pnpm, yarn, npx). */
function watchesParent(setting: TetherConfig['exitWithParent'], env: NodeJS.ProcessEnv): boolean {
  return setting === 'always' || (setting === 'auto' && Boolean(env.npm_lifecycle_event));
}

/**
 * The agents' environment: the CLI's own, or (`--mock`) pointed at the bundled mock API started
 * here, in this process, so that every client of this daemon (curl, `tether --server`) is served
 * offline without setting anything. Either way the first lines on stderr say what to expect.
 */
async function agentEnvironment(io: CliIO, logger: Logger, mock: boolean, claudeFirst: boolean): Promise<{ env: NodeJS.ProcessEnv; mock: MockAgents | null }> {
  if (mock) {
    const apis = await startMockAgents();
    logger.warn(
      `--mock: agents talk to mocks of the Anthropic API on ${apis.anthropic.url} and of the OpenAI Responses API on ${apis.responses.url}, not to Claude or Codex; every reply is canned ("Reply #n: <your prompt>"). For trying Tether offline, not for real work.`,
    );
    return { env: { ...io.env, ...apis.env }, mock: apis };
  }
  try {
    // Codex's credentials may sit in its config.toml's provider: only Claude's can be checked here.
    if (claudeFirst) checkClaudeCredentials(io.env);
  } catch (err) {
    // Not fatal: credentials may appear later (`claude login`), and the operator may want the API up.
    logger.warn(`${err instanceof Error ? err.message : String(err)}. Until then every message is refused (AGENT_UNAVAILABLE) and /readyz answers 503; to try Tether without an account, run: tether serve --mock`);
  }
  return { env: io.env, mock: null };
}

/** Where the sessions live, for the start-up line: the PostgreSQL URL without its password, or the SQLite file. */
function storeLine(config: TetherConfig): string {
  if (config.databaseUrl !== undefined) return `PostgreSQL ${hideUrlPasswords(config.databaseUrl)}, schema ${config.databaseSchema ?? "the search_path's first"}`;
  return config.persistence ? config.db : 'in memory (ENABLE_PERSISTENCE=false)';
}

