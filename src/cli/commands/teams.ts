import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../config.js';
import { BACKENDS, PERMISSION_MODES } from '../../domain/types.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { resolveAllowedRoots } from '../../lib/paths.js';
import { loadTeamsFile, type Team, type TeamEntry } from '../../teams/config.js';
import { addTeam, removeTeam } from '../../teams/edit.js';
import { columns, EXIT_OK, printJSON, type CliContext, type CliIO } from '../output.js';

/**
 * `tether teams ls|add|rm`: the teams file, edited in place. A running daemon is told nothing:
 * it watches the file and picks the change up itself.
 */
export function registerTeams(program: Command, ctx: CliContext): void {
  const teams = program
    .command('teams')
    .description("list and edit the teams file (TETHER_TEAMS): the projects whose agents may ask each other")
    .option('--file <path>', 'the teams file (default: $TETHER_TEAMS)');

  teams
    .command('ls')
    .description('list the teams: name, project directory or remote URL, description')
    .option('--json', 'print an array of teams (remote tokens shown as "***")')
    .action((flags: { json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      const { file, roots } = teamsFileOf(cmd, io);
      if (!existsSync(file)) throw new TetherError(ErrorCode.NOT_FOUND, `the teams file ${file} does not exist; \`tether teams add\` creates it`);
      const list = [...loadTeamsFile(file, roots).teams.values()];
      if (flags.json) printJSON(io.stdout, list.map(withoutToken));
      else if (list.length === 0) io.stdout.write(`no teams in ${file}\n`);
      else io.stdout.write(`${columns(list.map((t) => [t.name, t.path ?? t.remote?.url ?? '', t.description]))}\n`);
      ctx.exitCode = EXIT_OK;
    });

  teams
    .command('add')
    .description('add a team (a local project with --path, or a team of another daemon with --remote and --token); creates the file')
    .argument('<name>', 'the team\'s name: 1-64 of a-z, 0-9, "_" and "-"')
    .option('--path <dir>', 'the project directory its agent works in (inside TETHER_ALLOWED_ROOTS)')
    .option('--remote <url>', 'the Tether daemon that serves the team')
    .option('--token <token>', "an API token of that daemon (with --remote)")
    .option('--description <text>', 'what the team does, for the agents that may ask it')
    .option('--model <model>', 'model of its agent')
    .addOption(new Option('--permission-mode <mode>', 'permission mode of its agent').choices(PERMISSION_MODES))
    .option('--append-system-prompt <text>', 'text appended to its agent\'s system prompt')
    .addOption(new Option('--approvals <mode>', 'ask: its tool calls that need a person wait for one; deny: refused').choices(['ask', 'deny']))
    .addOption(new Option('--backend <agent>', 'its agent').choices(BACKENDS))
    .option('--replace', 'replace a team of the same name')
    .action((name: string, flags: AddFlags, cmd: Command) => {
      const { io } = ctx;
      const { file, roots } = teamsFileOf(cmd, io);
      addTeam(file, name, entryOf(flags, cmd), roots, { replace: flags.replace === true });
      io.stdout.write(`${flags.replace ? 'set' : 'added'} team "${name}" in ${file}\n`);
      ctx.exitCode = EXIT_OK;
    });

  teams
    .command('rm')
    .description('remove a team')
    .argument('<name>', 'the team\'s name')
    .action((name: string, _flags: unknown, cmd: Command) => {
      const { io } = ctx;
      const { file, roots } = teamsFileOf(cmd, io);
      removeTeam(file, name, roots);
      io.stdout.write(`removed team "${name}" from ${file}\n`);
      ctx.exitCode = EXIT_OK;
    });

  for (const command of teams.commands) command.showHelpAfterError(`(run "tether teams ${command.name()} --help" for usage)`);
}

interface AddFlags {
  path?: string;
  remote?: string;
  token?: string;
  description?: string;
  model?: string;
  permissionMode?: string;
  appendSystemPrompt?: string;
  approvals?: string;
  backend?: string;
  replace?: boolean;
}

/** The file (`--file`, else TETHER_TEAMS, from where the CLI runs) and the allowed roots its paths must lie in. */
function teamsFileOf(cmd: Command, io: CliIO): { file: string; roots: readonly string[] } {
  const config = loadConfig({}, io.env);
  const given = (cmd.optsWithGlobals() as { file?: string }).file ?? config.teams;
  if (given === undefined || given === '') throw invalidInput('no teams file: give --file PATH or set TETHER_TEAMS');
  return { file: resolve(given), roots: resolveAllowedRoots(config.allowedRoots, process.cwd()).real };
}

/** The flags as the file's fields; their values are checked with the whole file (parseTeams). */
function entryOf(flags: AddFlags, cmd: Command): TeamEntry {
  // The root program's global --token (for --server) is parsed wherever it stands, so a
  // `teams add … --token T` lands there rather than here.
  const token = flags.token ?? (cmd.optsWithGlobals() as { token?: string }).token;
  if ((flags.path === undefined) === (flags.remote === undefined)) throw invalidInput('give --path DIR (a local project) or --remote URL with --token TOKEN (a team of another daemon)');
  if (flags.remote !== undefined && token === undefined) throw invalidInput('--remote needs --token: an API token of that daemon');
  if (flags.remote === undefined && token !== undefined) throw invalidInput('--token goes with --remote');
  const entry: Record<string, unknown> = {
    path: flags.path === undefined ? undefined : resolve(flags.path),
    remote: flags.remote === undefined ? undefined : { url: flags.remote, token },
    description: flags.description,
    model: flags.model,
    permissionMode: flags.permissionMode,
    appendSystemPrompt: flags.appendSystemPrompt,
    approvals: flags.approvals,
    backend: flags.backend,
  };
  return entry as TeamEntry;
}

/** A team as `ls --json` shows it: a remote team's token is a secret, never printed. */
function withoutToken(team: Team): Team {
  return team.remote ? { ...team, remote: { ...team.remote, token: '***' } } : team;
}
