import type { Command } from 'commander';
import type { Tether } from '../../broker/api.js';
import { createTether } from '../../broker/create-tether.js';
import { connectTether } from '../../client/http-tether.js';
import { loadConfig } from '../../config.js';
import { systemClock } from '../../domain/clock.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { createLogger } from '../../lib/logger.js';
import { TEAM_NAME } from '../../teams/config.js';
import type { TeamsService } from '../../teams/service.js';
import { checkGlobals, globalsOf, serverOf } from '../open.js';
import { EXIT_OK, type CliContext, type CliIO } from '../output.js';
import { onStopSignals } from '../signals.js';

interface McpFlags {
  team?: string;
  teams?: string;
}

/**
 * `tether mcp`: the teams tools as an MCP server on stdio, the form an agent's `--mcp-config`
 * launches. Embedded, it runs the asked teams' agents itself on the local store; with `--server`
 * it sends them to the daemon, reading the same teams file for the names and remotes.
 */
export function registerMcp(program: Command, ctx: CliContext): void {
  program
    .command('mcp')
    .description('serve the teams tools (team_ask, team_tell, …) to an agent over MCP on stdin/stdout, until stdin closes')
    .option('--team <name>', 'the calling team: the default fromTeam of every tool call')
    .option('--teams <file>', 'the teams file (default: $TETHER_TEAMS)')
    .action(async (flags: McpFlags, cmd: Command) => {
      ctx.exitCode = await run(cmd, ctx.io, flags);
    });
}

async function run(cmd: Command, io: CliIO, flags: McpFlags): Promise<number> {
  const g = globalsOf(cmd);
  checkGlobals(g, io);
  if (flags.team !== undefined && !TEAM_NAME.test(flags.team)) throw invalidInput(`--team: "${flags.team}" is not a team name (1-64 of a-z, 0-9, "_" and "-")`);
  const env = { ...io.env, ...(flags.teams !== undefined ? { TETHER_TEAMS: flags.teams } : {}) };
  const config = loadConfig({ ...(g.db !== undefined ? { db: g.db } : {}), ...(g.tenant !== undefined ? { tenant: g.tenant } : {}) }, env);
  if (!config.teams) throw invalidInput('no teams file: pass --teams FILE or set TETHER_TEAMS (tether teams add creates one)');
  // stdout carries the protocol: every log line goes to stderr.
  const logger = createLogger({ level: io.env.TETHER_LOG_LEVEL ? config.logLevel : 'warn', format: 'json', sink: io.stderr });

  const server = serverOf(g, io);
  let tether: Tether;
  let service: TeamsService;
  let closeTeams: () => Promise<void>;
  if (server === undefined) {
    tether = await createTether({ ...config, env, logger, ...(io.env.TETHER_SPARES ? {} : { spares: 0 }) });
    service = tether.teams!;
    closeTeams = async () => undefined;
  } else {
    const token = g.token ?? io.env.TETHER_TOKEN;
    tether = connectTether({ url: server, ...(token ? { token } : {}) });
    // The same teams, limits and registry as a daemon's, sending through the client.
    const { TeamsRuntime } = await import('../../teams/runtime.js');
    const runtime = TeamsRuntime.open(config, { logger, clock: systemClock })!;
    service = runtime.bind(tether);
    closeTeams = () => runtime.close();
  }
  try {
    if (flags.team !== undefined && !service.hasTeam(flags.team)) {
      throw new TetherError(ErrorCode.NOT_FOUND, `--team: no team "${flags.team}" in ${config.teams}`);
    }
    service.watch();
    // Loaded here, not with the CLI: every other command starts without the MCP SDK.
    const [{ StdioServerTransport }, { createTeamsMcpServer }] = await Promise.all([import('@modelcontextprotocol/sdk/server/stdio.js'), import('../../mcp/server.js')]);
    const mcp = createTeamsMcpServer(service, { ...(flags.team !== undefined ? { team: flags.team } : {}), ...(g.tenant !== undefined ? { tenant: g.tenant } : {}) });
    const transport = new StdioServerTransport();
    const ended = new Promise<void>((resolve) => {
      transport.onclose = resolve;
      process.stdin.once('end', resolve);
    });
    const stopSignals = onStopSignals(io, () => void transport.close());
    await mcp.connect(transport);
    await ended;
    stopSignals();
    await mcp.close().catch(() => undefined);
  } finally {
    await closeTeams();
    await tether.close();
  }
  return EXIT_OK;
}
